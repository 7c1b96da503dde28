"""Hashing throughput: joblet_hash.hash against joblib.hash, side by side.

Usage: ``python tools/bench_hash.py [--quick] [--json FILE]``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import joblib
import numpy as np
from benchlib import Row, alternate, main

import joblet_hash


def small_objects(count: int) -> list:
    """ints, floats, short strings and small tuples, in equal parts."""
    kinds = (
        lambda i: i,
        lambda i: i * 0.5,
        lambda i: f"item-{i}",
        lambda i: (i, f"t{i}"),
    )
    return [kinds[i % 4](i) for i in range(count)]


def small_dicts(count: int) -> list:
    return [
        {"id": i, "name": f"user{i}", "score": i * 0.1, "tags": ["a", "b"]}
        for i in range(count)
    ]


def array_rows(megabytes: int, repeat: int) -> list[Row]:
    array = np.random.default_rng(0).random(megabytes * 1024 * 1024 // 8)
    gigabytes = array.nbytes / 1e9
    # Results checked untimed: both sides must be deterministic.
    assert joblet_hash.hash(array) == joblet_hash.hash(array.copy())
    times = alternate(
        {
            "joblet xxh3_128": lambda: joblet_hash.hash(array, hash_name="xxh3_128"),
            "joblet md5": lambda: joblet_hash.hash(array, hash_name="md5"),
            "joblib md5": lambda: joblib.hash(array),
        },
        repeat,
    )
    joblib_speed = gigabytes / times["joblib md5"]
    return [
        Row(
            f"hash {megabytes} MB float64 array ({name.split()[1]})",
            gigabytes / times[name],
            "joblib.hash (md5)",
            joblib_speed,
            "GB/s",
            higher_is_better=True,
        )
        for name in ("joblet xxh3_128", "joblet md5")
    ]


def run(quick: bool) -> list[Row]:
    repeat = 3 if quick else 5
    rows = array_rows(100 if quick else 500, repeat)

    count = 200_000 if quick else 1_000_000
    objects = small_objects(count)
    assert joblet_hash.hash(objects) == joblet_hash.hash(small_objects(count))
    times = alternate(
        {
            "joblet md5": lambda: joblet_hash.hash(objects),
            "joblet xxh3_128": lambda: joblet_hash.hash(objects, hash_name="xxh3_128"),
            "joblib": lambda: joblib.hash(objects),
        },
        repeat,
    )
    for name in ("joblet md5", "joblet xxh3_128"):
        rows.append(
            Row(
                f"hash list of {count:,} small objects ({name.split()[1]})",
                times[name],
                "joblib.hash",
                times["joblib"],
                "s",
            )
        )

    count = 20_000 if quick else 100_000
    dicts = small_dicts(count)
    times = alternate(
        {
            "joblet": lambda: joblet_hash.hash(dicts, hash_name="xxh3_128"),
            "joblib": lambda: joblib.hash(dicts),
        },
        repeat,
    )
    rows.append(
        Row(
            f"hash list of {count:,} small dicts (xxh3_128)",
            times["joblet"],
            "joblib.hash",
            times["joblib"],
            "s",
        )
    )
    return rows


if __name__ == "__main__":
    main(run)
