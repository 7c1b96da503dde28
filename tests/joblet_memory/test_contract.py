"""The Memory contract, run over every store, codec, mmap mode, signing and call form.

Each behaviour here is a promise of the documentation, asserted for every
combination it meets, so that an option cannot break another unseen (a
compressed cache that never hit went unnoticed because no test cached with
``compress=``). A new store, codec or call form joins by adding it to the
lists below.

Stores: a private local folder (read without signatures), a local folder
shared with a group and one with a chosen key (both signed), fsspec's
``memory://`` and S3 on a real SeaweedFS server.
"""

from __future__ import annotations

import asyncio
import importlib.util
import pathlib
import time
import uuid
import warnings
from typing import Any

import pytest

from joblet_memory import (
    CacheWarning,
    FileSystemStoreBackend,
    MemorizedResult,
    Memory,
    expires_after,
)
from joblet_memory._stores._signing import TRAILER_MAGIC

np = pytest.importorskip("numpy")

STORES = ["local", "local-shared", "local-keyed", "memory", "s3"]
COMPRESS: list[Any] = [
    False,
    True,
    1,
    9,
    ("zlib", 3),
    ("gzip", 3),
    ("lz4", 3),
    ("xz", 1),
    ("bz2", 3),
    "zstd",
]
MMAP_MODES = [None, "r", "c"]
KEY = "contract-key-" + "k" * 20

calls: list[Any] = []


def array_and_label(n):
    calls.append(n)
    return {"array": np.arange(n, dtype=np.float64), "label": f"n={n}"}


def double(x, debug=False):
    calls.append(x)
    return 2 * x


async def async_double(x):
    calls.append(x)
    await asyncio.sleep(0)
    return 2 * x


@pytest.fixture(params=STORES)
def store(request, tmp_path) -> dict[str, Any]:
    """``Memory`` keyword arguments of an empty cache on one kind of store.

    ``store["signed"]`` and ``store["file_mode"]`` are popped by
    :func:`memory_on`: what a local store's result files must look like.
    """
    kind = request.param
    local = {"location": str(tmp_path / "cache"), "signed": True, "file_mode": 0o600}
    if kind == "local":
        return {**local, "signed": False}
    if kind == "local-shared":
        options = {"permissions": "group"}
        return {**local, "backend_options": options, "file_mode": 0o660}
    if kind == "local-keyed":
        return {**local, "signing_key": KEY}
    if kind == "memory":
        request.getfixturevalue("fsspec_required")
        return {"location": f"memory://contract-{uuid.uuid4().hex}"}
    url, options = request.getfixturevalue("s3_cache")
    return {"location": url, "backend_options": options}


def memory_on(store: dict[str, Any], **options: Any) -> Memory:
    """A ``Memory`` on ``store`` with ``options``."""
    kwargs = {k: v for k, v in store.items() if k not in ("signed", "file_mode")}
    return Memory(**kwargs, **options)


def codec_available(compress: Any) -> bool:
    name = compress[0] if isinstance(compress, tuple) else compress
    if name == "zstd":
        try:  # Python 3.14's standard library, else the backport
            return importlib.util.find_spec("compression.zstd") is not None
        except ModuleNotFoundError:
            return importlib.util.find_spec("backports.zstd") is not None
    return name != "lz4" or importlib.util.find_spec("lz4") is not None


def output_files(memory: Memory) -> list[pathlib.Path]:
    store = memory.store_backend
    if not isinstance(store, FileSystemStoreBackend):
        return []
    return [pathlib.Path(item.path, "output.pkl") for item in store.get_items()]


def no_cache_warnings():
    """A context in which any CacheWarning fails the test."""
    context = warnings.catch_warnings()
    context.__enter__()
    warnings.simplefilter("error", CacheWarning)
    return context


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mmap_mode", MMAP_MODES)
@pytest.mark.parametrize("compress", COMPRESS, ids=repr)
def test_every_store_codec_and_mmap_mode_hits(store, compress, mmap_mode):
    if not codec_available(compress):
        pytest.skip(f"{compress!r} is not installed")
    with warnings.catch_warnings(record=True) as made:
        warnings.simplefilter("always")
        memory = memory_on(store, compress=compress, mmap_mode=mmap_mode, verbose=0)
    # compress with mmap_mode warns once, at construction, that results load in memory
    assert bool(made) == bool(compress and mmap_mode), [str(w.message) for w in made]
    cached = memory.cache(array_and_label)
    calls.clear()
    context = no_cache_warnings()
    try:
        first = cached(1000)
        second = cached(1000)
    finally:
        context.__exit__(None, None, None)
    assert calls == [1000], "computed again: the cache did not hit"
    info = cached.cache_info()
    assert (info.misses, info.hits, info.stores) == (1, 1, 1)
    np.testing.assert_array_equal(second["array"], first["array"])
    assert second["label"] == "n=1000"
    mapped = mmap_mode is not None and not compress
    assert isinstance(second["array"], np.memmap) == mapped
    if mapped:
        assert second["array"].flags.writeable == (mmap_mode == "c")
    for path in output_files(memory):  # local stores: signing and file modes
        assert path.read_bytes().endswith(TRAILER_MAGIC) == store["signed"]
        assert path.stat().st_mode & 0o777 == store["file_mode"]


# -- every way to call -------------------------------------------------------------


def call_twice(memory: Memory, form: str) -> tuple[Any, Any]:
    """Call ``double(21)`` twice through ``form``; return both results."""
    if form == "cache":
        cached = memory.cache(double)
        return cached(21), cached(21)
    if form == "call_and_shelve":
        cached = memory.cache(double)
        first, second = cached.call_and_shelve(21), cached.call_and_shelve(21)
        assert isinstance(second, MemorizedResult)
        return first.get(), second.get()
    if form == "eval":
        return memory.eval(double, 21), memory.eval(double, 21)
    if form == "async":
        cached = memory.cache(async_double)
        return asyncio.run(cached(21)), asyncio.run(cached(21))
    if form == "ignore":
        cached = memory.cache(double, ignore=["debug"])
        return cached(21, debug=True), cached(21, debug=False)
    if form == "validation callback":
        cached = memory.cache(double, cache_validation_callback=lambda meta: True)
        return cached(21), cached(21)
    if form == "expires_after":
        cached = memory.cache(
            double, cache_validation_callback=expires_after(seconds=60)
        )
        return cached(21), cached(21)
    raise AssertionError(form)


FORMS = [
    "cache",
    "call_and_shelve",
    "eval",
    "async",
    "ignore",
    "validation callback",
    "expires_after",
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("compress", [False, 3], ids=["plain", "zlib-3"])
@pytest.mark.parametrize("form", FORMS)
def test_every_call_form_hits(store, form, compress):
    memory = memory_on(store, compress=compress, verbose=0)
    calls.clear()
    context = no_cache_warnings()
    try:
        assert call_twice(memory, form) == (42, 42)
    finally:
        context.__exit__(None, None, None)
    assert calls == [21], f"{form}: computed {len(calls)} times"


@pytest.mark.timeout(60)
def test_check_call_in_cache_on_every_store(store):
    cached = memory_on(store, compress=3, verbose=0).cache(double)
    assert not cached.check_call_in_cache(5)
    cached(5)
    assert cached.check_call_in_cache(5)
    assert not cached.check_call_in_cache(6)
    cached.clear(warn=False)
    assert not cached.check_call_in_cache(5)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("valid", [True, False])
def test_a_rejecting_validation_callback_recomputes(store, valid):
    seen: list[dict[str, Any]] = []

    def callback(metadata):
        seen.append(metadata)
        return valid

    cached = memory_on(store, compress=3, verbose=0).cache(
        double, cache_validation_callback=callback
    )
    calls.clear()
    cached(1), cached(1)
    assert calls == ([1] if valid else [1, 1])
    assert seen
    assert "duration" in seen[0]


@pytest.mark.timeout(60)
def test_an_expired_result_is_recomputed(store):
    cached = memory_on(store, verbose=0).cache(
        double, cache_validation_callback=expires_after(seconds=0.3)
    )
    calls.clear()
    cached(2), cached(2)
    assert calls == [2]
    time.sleep(0.4)
    cached(2)
    assert calls == [2, 2]


@pytest.mark.timeout(60)
def test_a_second_memory_on_the_same_store_hits(store):
    """Another process's Memory (a fresh object, nothing remembered) hits."""
    memory_on(store, compress=("lz4", 1), verbose=0).cache(double)(8)
    calls.clear()
    context = no_cache_warnings()
    try:
        again = memory_on(store, compress=("lz4", 1), verbose=0).cache(double)(8)
    finally:
        context.__exit__(None, None, None)
    assert again == 16
    assert calls == []
