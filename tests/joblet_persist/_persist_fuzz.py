"""Mutation fuzzing of ``load``, run as a child process by ``test_fuzz.py``.

Usage: ``python _persist_fuzz.py TARGET FAMILY SEED COUNT MEMORY_LIMIT``: TARGET
``load`` or ``inspect`` (the function fuzzed), FAMILY one of ``joblet``,
``pickle``, ``joblib`` (the sample names' prefix). Builds small valid
files (joblet containers plain and compressed, plain pickles of protocols 2 to
5, joblib files), mutates them deterministically from SEED (bit flips, byte
overwrites, truncations, insertions, deletions, splices), loads each mutation
from memory and prints one JSON line: how many mutations raised each exception
type that is not a documented one, with a few examples.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import resource
import sys
import tempfile
from collections import OrderedDict
from typing import Any


def _samples() -> list[tuple[str, bytes, bool]]:
    """(name, bytes, trusted load too) of the valid files to mutate."""
    import numpy as np

    import joblet_persist

    value = {
        "ints": list(range(20)),
        "text": "joblet" * 5,
        "blob": b"\x00\x01" * 40,
        "nested": OrderedDict(a=(1.5, None, True), b={3, 4}),
        "array": np.arange(24, dtype="<i4").reshape(4, 6),
        "fortran": np.asfortranarray(np.ones((3, 2))),
        "objects": np.array([1, "two", None], dtype=object),
        "record": np.zeros(2, dtype=[("x", "<f8"), ("y", "u1")]),
    }
    samples = []
    for compress in (0, "zlib", "gzip", "bz2", "xz", "lzma", "lz4"):
        sink = io.BytesIO()
        joblet_persist.dump(value, sink, compress=compress)
        samples.append((f"joblet-{compress}", sink.getvalue(), True))
    plain = {key: val for key, val in value.items() if key != "objects"}
    for protocol in (2, 3, 4, 5):
        samples.append((f"pickle-{protocol}", pickle.dumps(plain, protocol), False))
    try:
        import joblib
    except ImportError:
        return samples
    for compress in (0, "zlib", "lz4"):
        sink = io.BytesIO()
        joblib.dump(value, sink, compress=compress)
        samples.append((f"joblib-{compress}", sink.getvalue(), False))
    return samples


def _mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    mutated = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        kind = rng.randrange(6)
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
        else:
            other = rng.choice(others)
            start = rng.randrange(len(other))
            mutated[at : at + 16] = other[start : start + 16]
    return bytes(mutated)


def _inspect(data: bytes, folder: str) -> None:
    import joblet_persist

    path = os.path.join(folder, "mutated")
    with open(path, "wb") as file:
        file.write(data)
    str(joblet_persist.inspect_file(path))


def run(target: str, family: str, seed: int, count: int) -> dict[str, Any]:
    import joblet_persist

    folder = tempfile.mkdtemp()

    samples = [sample for sample in _samples() if sample[0].startswith(family + "-")]
    others = [data for _, data, _ in samples]
    rng = random.Random(seed)
    found: dict[str, dict[str, Any]] = {}
    loaded = 0
    for index in range(count):
        name, data, trusted_too = samples[index % len(samples)]
        mutated = _mutate(data, rng, others)
        modes = [()] + ([None] if trusted_too and target == "load" else [])
        for allowed in modes:
            try:
                if target == "inspect":
                    _inspect(mutated, folder)
                else:
                    joblet_persist.load(io.BytesIO(mutated), allowed_globals=allowed)
                loaded += 1
            except joblet_persist.FormatError:
                pass
            except Exception as exc:
                key = f"{type(exc).__module__}.{type(exc).__qualname__}"
                entry = found.setdefault(key, {"count": 0, "examples": []})
                entry["count"] += 1
                if len(entry["examples"]) < 3:
                    entry["examples"].append(
                        {"sample": name, "trusted": allowed is None,
                         "message": str(exc)[:300], "input": mutated.hex()[:4000]}
                    )  # fmt: skip
    return {"mutations": count, "loaded": loaded, "undocumented": found}


if __name__ == "__main__":
    limit = int(sys.argv[5])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    result = run(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    print("RESULT " + json.dumps(result), flush=True)
