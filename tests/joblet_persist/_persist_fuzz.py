"""Mutation fuzzing of ``load`` and ``inspect_file``: run by ``test_fuzz.py``, or alone.

One batch (what the tests run, each in a memory-limited child)::

    python _persist_fuzz.py batch FAMILY SEED COUNT MEMORY_LIMIT

FAMILY is ``joblet`` (joblet files, plain and with every codec), ``pickle``
(protocols 0 to 5), ``joblib`` (joblib's own files) or ``crafted`` (the inputs
of ``_persist_crafted``). Each mutation (bit flips, overwrites, truncations,
insertions, deletions, splices, zeroed spans and tails) of a valid sample is
loaded (restricted, and trusted for joblet files, whose checksums keep a
mutated pickle from ever running) and inspected. The batch prints one JSON
line: the findings by kind, with examples (the input in hex) to reproduce them.

A finding is: an exception other than FormatError and its subclasses; a
MemoryError behind a FormatError (an allocation beyond the budget that only the
memory limit stopped); a traced peak above the restricted load's budget; a
value other than the original from a joblet file (its checksums must catch
every change; plain pickles and joblib files have none); or a global that a
load imported and ``inspect`` did not list. A signal (crash) or a hang kills
the child: the parent reports the batch that did it.

A longer run, in children of ``MEMORY_LIMIT`` bytes, until the time is up::

    python _persist_fuzz.py --minutes N [--count 2000] [--memory BYTES]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import OrderedDict
from typing import Any

FAMILIES = ("joblet", "pickle", "joblib", "crafted")
#: Traced bytes a restricted load may hold beyond its budget: the interpreter's
#: own objects (frames, the stream's copy), which the budget does not count.
_SLACK = 8 << 20


def _value() -> dict[str, Any]:
    import numpy as np

    return {
        "ints": list(range(20)),
        "text": "joblet" * 5,
        "blob": b"\x00\x01" * 40,
        "nested": OrderedDict(a=(1.5, None, True), b={3, 4}),
        "array": np.arange(24, dtype="<i4").reshape(4, 6),
        "fortran": np.asfortranarray(np.ones((3, 2))),
        "objects": np.array([1, "two", None], dtype=object),
        "record": np.zeros(2, dtype=[("x", "<f8"), ("y", "u1")]),
    }


def samples(family: str) -> list[tuple[str, bytes, bool]]:
    """(name, bytes, trusted load too) of the valid inputs of ``family``."""
    import joblet_persist

    value = _value()
    if family == "joblet":
        from joblet_persist._compression.registry import lookup

        codecs = [0, "zlib", "gzip", "bz2", "xz", "lzma", "lz4", "zstd"]
        usable = [c for c in codecs if not c or lookup(str(c)).available() is None]  # type: ignore[union-attr]
        return [
            (f"joblet-{c}", joblet_persist.dumps(value, compress=c), True)
            for c in usable
        ]
    if family == "pickle":
        plain = {key: val for key, val in value.items() if key != "objects"}
        return [(f"pickle-{p}", pickle.dumps(plain, p), False) for p in range(6)]
    if family == "joblib":
        try:
            import joblib
        except ImportError:
            return []  # joblib's own files need joblib to be written

        found = []
        for compress in (0, "zlib", "lz4"):
            sink = io.BytesIO()
            joblib.dump(value, sink, compress=compress)
            found.append((f"joblib-{compress}", sink.getvalue(), False))
        return found
    import _persist_crafted as crafted

    bomb = crafted.one_stream_bz2_bomb(joblet_persist.dumps(bytes(1 << 20)))
    inputs = [
        crafted.array_rebuild_frees_a_view(1 << 12),
        crafted.joblib_record_with_lying_dtype(),
        crafted.legacy_header_zero_fill(1 << 30),
        crafted.compressed_huge_buffer(1 << 31, "array"),
        crafted.items_not_bytes(),
        crafted.memo_repetition(10**5, 50),
        crafted.missing_module(),
        crafted.dtype_syntax_error(),
        bomb,
        *crafted.singleton_dtype_builds(),
    ]
    return [(f"crafted-{i}", data, False) for i, data in enumerate(inputs)]


def mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    """``data`` with one to eight random changes."""
    mutated = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        kind = rng.randrange(8)
        at = rng.randrange(len(mutated) or 1)
        if kind == 0 and mutated:
            mutated[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and mutated:
            mutated[at] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        elif kind == 2:
            del mutated[rng.randrange(at + 1) :]
        elif kind == 3:
            mutated[at:at] = bytes(
                rng.randrange(256) for _ in range(rng.randrange(1, 9))
            )
        elif kind == 4:
            del mutated[at : at + rng.randrange(1, 17)]
        elif kind == 5:
            other = rng.choice(others)
            start = rng.randrange(len(other))
            mutated[at : at + 16] = other[start : start + 16]
        elif kind == 6:  # a zeroed span (a lost page)
            size = rng.choice((8, 64, 512, 4096))
            mutated[at : at + size] = bytes(len(mutated[at : at + size]))
        else:  # a zeroed tail (a power loss)
            size = rng.randrange(1, len(mutated) + 1) if mutated else 0
            mutated[len(mutated) - size :] = bytes(size)
    return bytes(mutated)


def same(a: Any, b: Any) -> bool:
    """Deep equality, numpy arrays compared by dtype, shape and content."""
    import numpy as np

    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
            and a.dtype == b.dtype and a.shape == b.shape
            and a.tolist() == b.tolist()
        )  # fmt: skip
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and list(a) == list(b)
            and all(same(a[k], b[k]) for k in a)
        )  # fmt: skip
    if isinstance(a, (list, tuple)):
        return (
            type(a) is type(b) and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )  # fmt: skip
    return type(a) is type(b) and bool(a == b)


class _Checker:
    """Runs the checks on each mutated input; collects the findings."""

    def __init__(self, folder: str) -> None:
        import joblet_persist

        self.jp = joblet_persist
        self.folder = folder
        self.imported: list[tuple[str, str]] = []
        self.found: dict[str, dict[str, Any]] = {}
        self.loaded = 0
        sys.addaudithook(self._audit)

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "pickle.find_class":
            self.imported.append((str(args[0]), str(args[1])))

    def finding(self, kind: str, name: str, data: bytes, detail: str) -> None:
        entry = self.found.setdefault(kind, {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < 3:
            entry["examples"].append(
                {"sample": name, "detail": detail[:300], "input": data.hex()[:4000]}
            )

    def _error(self, exc: BaseException, name: str, data: bytes, how: str) -> None:
        if not isinstance(exc, self.jp.FormatError):
            kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
            self.finding(f"undocumented {kind}", name, data, f"{how}: {exc}")
            return
        seen: set[int] = set()
        cause: BaseException | None = exc
        while cause is not None and id(cause) not in seen:  # a cause may be itself
            seen.add(id(cause))
            if isinstance(cause, MemoryError):
                self.finding(
                    "allocation beyond the budget", name, data, f"{how}: {exc}"
                )
            cause = cause.__cause__

    def check(self, name: str, data: bytes, trusted: bool, original: Any) -> None:
        restricted_names = self._load(name, data, (), original if trusted else None)
        trusted_names = self._load(name, data, None, original) if trusted else []
        self._inspect(name, data, restricted_names + trusted_names)

    def _load(self, name: str, data: bytes, allowed: Any, original: Any) -> list[str]:
        self.imported.clear()
        how = "restricted load" if allowed is not None else "trusted load"
        if allowed is not None:
            tracemalloc.start()
        try:
            value = self.jp.loads(data, allowed_globals=allowed)
        except Exception as exc:
            self._error(exc, name, data, how)
            return []
        finally:
            if allowed is not None:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                limit = self.jp.RESTRICTED_FLOOR + self.jp.RESTRICTED_RATIO * len(data)
                if peak > limit + _SLACK:
                    self.finding("allocation beyond the budget", name, data, f"{peak}")
        self.loaded += 1
        if original is not None and not same(value, original):
            self.finding("wrong value", name, data, f"{how}: {value!r:.200}")
        return [_python3(module, attr) for module, attr in self.imported]

    def _inspect(self, name: str, data: bytes, imported: list[str]) -> None:
        path = os.path.join(self.folder, "input")
        with open(path, "wb") as file:
            file.write(data)
        try:
            report = self.jp.inspect_file(path)
            str(report)
        except Exception as exc:
            self._error(exc, name, data, "inspect")
            return
        missing = sorted(set(imported) - set(report.globals))
        if missing:
            self.finding("a global load imports that inspect does not list",
                         name, data, ", ".join(missing))  # fmt: skip


def _python3(module: str, name: str) -> str:
    from joblet_persist._allow_list import python3_name

    return ".".join(python3_name(module, name))


def batch(family: str, seed: int, count: int) -> dict[str, Any]:
    """Fuzz ``count`` mutations of ``family``'s samples from ``seed``."""
    import joblet_persist

    checker = _Checker(tempfile.mkdtemp())
    pool = samples(family)
    if not pool:
        return {"mutations": 0, "loaded": 0, "findings": {}}
    others = [data for _, data, _ in pool]
    originals = {
        name: joblet_persist.loads(data) if trusted else None
        for name, data, trusted in pool
    }
    rng = random.Random(seed)
    for index in range(count):
        name, data, trusted = pool[index % len(pool)]
        mutated = data if index < len(pool) else mutate(data, rng, others)
        checker.check(name, mutated, trusted, originals[name])
    return {"mutations": count, "loaded": checker.loaded, "findings": checker.found}


def run_child(
    family: str, seed: int, count: int, memory: int, timeout: float
) -> dict[str, Any]:
    """One batch in a child process; a crash or a hang is itself a finding."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    command = [
        sys.executable,
        __file__,
        "batch",
        family,
        str(seed),
        str(count),
        str(memory),
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return {
            "mutations": 0,
            "findings": {"hang": {"count": 1, "examples": [command]}},
        }
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        crash = {"count": 1, "examples": [{"command": command, "exit": done.returncode,
                                           "stderr": done.stderr[-2000:]}]}  # fmt: skip
        return {"mutations": 0, "findings": {"crash": crash}}
    return dict(json.loads(lines[-1][len("RESULT ") :]))


def run_for(minutes: float, count: int, memory: int) -> dict[str, Any]:
    """Batches of every family, seeds counting up, until ``minutes`` have passed."""
    end = time.monotonic() + 60 * minutes
    totals: dict[str, Any] = {"mutations": {}, "findings": {}}
    seed = 0
    while time.monotonic() < end:
        for family in FAMILIES:
            if seed and time.monotonic() >= end:
                break
            result = run_child(family, seed, count, memory, timeout=600)
            totals["mutations"][family] = (
                totals["mutations"].get(family, 0) + result["mutations"]
            )
            for kind, entry in result["findings"].items():
                merged = totals["findings"].setdefault(f"{family}: {kind}", entry)
                if merged is not entry:
                    merged["count"] += entry["count"]
        seed += 1
        print(json.dumps({"seed": seed, **totals["mutations"]}), flush=True)
    return totals


def main(argv: list[str]) -> int:
    if argv and argv[0] == "batch":
        family, seed, count, memory = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        print("RESULT " + json.dumps(batch(family, seed, count)), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--count", type=int, default=2000, help="mutations per batch")
    parser.add_argument("--memory", type=int, default=1 << 30, help="bytes per child")
    options = parser.parse_args(argv)
    totals = run_for(options.minutes, options.count, options.memory)
    print("RESULT " + json.dumps(totals), flush=True)
    return 1 if totals["findings"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
