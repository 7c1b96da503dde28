"""Memory cache: joblet_memory against joblib.Memory 1.6, side by side.

Usage: ``python tools/bench_memory.py [--quick] [--json FILE]``

Figures (medians of alternating runs in one process):

* cache hit with small arguments (latency per call);
* the same for a function calling helpers, a class and numpy, with
  dependency tracking and ``track_versions=True`` (checked once per process);
* cache hit with a 500 MB array argument (hashing the argument dominates);
* cache hit returning a 500 MB array with ``mmap_mode='r'``;
* storing a 1 GB result, against ``joblet_persist.dump`` of the same array
  (the target) and joblib.Memory.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import joblib
import numpy as np
from benchlib import Row, alternate, main, per_call

import joblet_persist
from joblet_memory import Memory

MB = 1024 * 1024


def small(x, y=2):
    return [x, y]


SCALE = 3


class Scaler:
    def __init__(self, k):
        self.k = k

    def apply(self, x):
        return self._times(x) + 1

    def _times(self, x):
        return x * self.k


def clean(x):
    return abs(x)


def prepare(x):
    return clean(x) * SCALE


def pipeline(x, y=2):
    return float(np.sqrt(Scaler(y).apply(prepare(x))))


def first_item(array):
    return float(array[0])


def ones(n):
    return np.ones(n)


_RESULT: dict[str, np.ndarray] = {}


def big_result(tag):
    return _RESULT["array"]


def _memories(root: Path, **options) -> tuple[Memory, joblib.Memory]:
    return (
        Memory(root / "joblet", verbose=0, **options),
        joblib.Memory(root / "joblib", verbose=0, **options),
    )


def _hit_row(figure: str, ours: Any, theirs: Any, quick: bool) -> Row:
    """Microseconds per small hit of two memoized functions, already stored."""
    times = per_call(
        {"joblet": lambda: ours(1), "joblib": lambda: theirs(1)},
        calls=200 if quick else 2000,
        repeat=5 if quick else 9,
    )
    return Row(
        figure, times["joblet"] * 1e6, "joblib.Memory 1.6", times["joblib"] * 1e6, "us"
    )


def hit_small(root: Path, quick: bool) -> Row:
    ours, theirs = _memories(root)
    a, b = ours.cache(small), theirs.cache(small)
    assert a(1) == b(1) == [1, 2]  # stored, checked untimed
    return _hit_row("Memory hit, small args", a, b, quick)


def hit_small_with_dependencies(root: Path, quick: bool) -> Row:
    ours, theirs = _memories(root)
    a, b = ours.cache(pipeline, track_versions=True), theirs.cache(pipeline)
    assert a(1) == b(1)  # stored, checked untimed
    assert any(
        name.endswith(".Scaler._times") for name in a._ensure_checked().dependencies
    )
    return _hit_row(
        "Memory hit, small args, helpers followed, track_versions", a, b, quick
    )


def hit_large_argument(root: Path, quick: bool) -> Row:
    megabytes = 50 if quick else 500
    array = np.random.default_rng(0).random(megabytes * MB // 8)
    ours, theirs = _memories(root)
    a, b = ours.cache(first_item), theirs.cache(first_item)
    assert a(array) == b(array) == float(array[0])
    times = alternate(
        {"joblet": lambda: a(array), "joblib": lambda: b(array)}, 3 if quick else 5
    )
    return Row(
        f"Memory hit, {megabytes} MB array argument",
        times["joblet"] * 1e3,
        "joblib.Memory 1.6",
        times["joblib"] * 1e3,
        "ms",
    )


def hit_mmap_result(root: Path, quick: bool) -> Row:
    megabytes = 50 if quick else 500
    n = megabytes * MB // 8
    ours, theirs = _memories(root, mmap_mode="r")
    a, b = ours.cache(ones), theirs.cache(ones)
    first_a, first_b = a(n), b(n)
    assert isinstance(a(n), np.memmap)
    assert isinstance(b(n), np.memmap)
    assert first_a.shape == first_b.shape == (n,)
    assert a(n)[-1] == 1.0
    del first_a, first_b
    times = per_call({"joblet": lambda: a(n), "joblib": lambda: b(n)}, 20, 5)
    return Row(
        f"Memory hit returning {megabytes} MB array, mmap_mode='r'",
        times["joblet"] * 1e3,
        "joblib.Memory 1.6",
        times["joblib"] * 1e3,
        "ms",
    )


def _settle(nbytes: int) -> None:
    # Untimed, before every store, for every contender alike: flush the previous
    # contender's dirty pages (or whoever writes next pays for its writeback), and
    # fault in as much memory as the store will fill with page cache (this VM
    # hands freed memory back to its host, and re-faulting costs ~0.8 s per GB:
    # without this, whoever stores first in a round pays it).
    os.sync()
    warm = np.ones(nbytes // 8)
    del warm


def store_large_result(root: Path, quick: bool) -> list[Row]:
    megabytes = 100 if quick else 1024
    _RESULT["array"] = np.random.default_rng(1).random(megabytes * MB // 8)
    nbytes = _RESULT["array"].nbytes
    ours, theirs = _memories(root)
    a, b = ours.cache(big_result), theirs.cache(big_result)
    target = root / "persist" / "plain.pkl"
    target.parent.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = alternate(
            {
                "joblet": lambda: a.call(0),
                "persist": lambda: joblet_persist.dump(_RESULT["array"], target),
                "joblib": lambda: b.call(0),
            },
            3,
            before_each=lambda: _settle(nbytes),
        )
    loaded = a(0)
    assert np.array_equal(loaded, _RESULT["array"])  # checked untimed
    del loaded
    _RESULT.clear()
    figure = f"Memory store {megabytes} MB result"
    return [
        Row(figure, times["joblet"], "joblet_persist.dump", times["persist"], "s"),
        Row(figure, times["joblet"], "joblib.Memory 1.6", times["joblib"], "s"),
    ]


def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    steps = (
        hit_small,
        hit_small_with_dependencies,
        hit_large_argument,
        hit_mmap_result,
        store_large_result,
    )
    for step in steps:
        root = Path(tempfile.mkdtemp(prefix="bench-memory-"))
        try:
            result = step(root, quick)
            rows += result if isinstance(result, list) else [result]
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main(run)
