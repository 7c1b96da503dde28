"""Store layout, metadata, damaged entries, unwritable locations, backends."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import warnings

import pytest

import joblet_memory
from joblet_memory import (
    CacheWarning,
    FileSystemStoreBackend,
    Memory,
    StoreBackendBase,
    register_store_backend,
)


def square(x):
    return x * x


def entries(memory, func):
    store = memory.store_backend
    return store.get_items(memory.cache(func).func_id)


def test_layout_and_metadata(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    cached = memory.cache(square)
    assert cached(3) == 9
    root = tmp_path / "joblet"
    assert (root / ".gitignore").read_text().endswith("*\n")
    func_dir = root / pathlib.Path(*cached.func_id.split("/"))
    assert cached.func_id.endswith("/square")
    assert json.loads((func_dir / "func_code.json").read_text())["name"] == "square"
    [entry] = [p for p in func_dir.iterdir() if p.is_dir()]
    assert len(entry.name) == 32
    assert (entry / "output.pkl").is_file()
    metadata = json.loads((entry / "metadata.json").read_text())
    assert metadata["input_args"] == {"x": "3"}
    assert metadata["size"] == (entry / "output.pkl").stat().st_size
    assert {"duration", "time", "code", "func"} <= set(metadata)


def test_existing_gitignore_is_kept(tmp_path):
    (tmp_path / "joblet").mkdir()
    (tmp_path / "joblet" / ".gitignore").write_text("mine\n")
    Memory(tmp_path, verbose=0).cache(square)(2)
    assert (tmp_path / "joblet" / ".gitignore").read_text() == "mine\n"


def test_str_and_path_locations_share_the_cache(tmp_path):
    Memory(str(tmp_path), verbose=0).cache(square)(4)
    assert Memory(tmp_path, verbose=0).cache(square).check_call_in_cache(4)


@pytest.mark.parametrize(
    ("first", "second"),
    [((1,), {}), ((), {"x": 1}), ((1,), {"y": 2}), ((), {"y": 2, "x": 1})],
)
def test_bound_arguments_share_one_entry(tmp_path, first, second):
    def f(x, y=2):
        return x + y

    memory = Memory(tmp_path, verbose=0)
    cached = memory.cache(f)
    cached(*first, **second)
    assert cached.check_call_in_cache(1)
    assert cached.check_call_in_cache(x=1, y=2)
    assert len(cached.store_backend.get_items(cached.func_id)) == 1


def test_varargs_and_keyword_only(tmp_path):
    def f(a, /, *rest, scale=1, **options):
        return (a, rest, scale, options)

    cached = Memory(tmp_path, verbose=0).cache(f)
    assert cached(1, 2, 3, scale=2, z=1) == (1, (2, 3), 2, {"z": 1})
    assert cached.check_call_in_cache(1, 2, 3, z=1, scale=2)
    assert not cached.check_call_in_cache(1, 2, scale=2, z=1)


def test_unknown_ignore_name_fails_at_decoration(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    with pytest.raises(ValueError, match="'debugg'"):
        memory.cache(square, ignore=["debugg"])


def test_wrong_call_raises_type_error(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(square)
    with pytest.raises(TypeError):
        cached(1, 2)
    with pytest.raises(TypeError):
        cached(y=1)


def test_unhashable_argument_names_the_argument(tmp_path):
    import threading

    from joblet_hash import UnhashableObjectError

    cached = Memory(tmp_path, verbose=0).cache(square)
    with pytest.raises(UnhashableObjectError, match=r"x\['model'\]"):
        cached({"model": threading.Lock()})


def test_corrupted_entry_is_recomputed_and_rewritten(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    calls = []

    def f(x):
        calls.append(x)
        return list(range(x))

    cached = memory.cache(f)
    cached(1000)
    [item] = cached.store_backend.get_items(cached.func_id)
    output = pathlib.Path(item.path) / "output.pkl"
    data = output.read_bytes()
    output.write_bytes(data[: len(data) // 2])
    with pytest.warns(CacheWarning, match="cannot be read"):
        assert cached(1000) == list(range(1000))
    assert calls == [1000, 1000]
    assert output.read_bytes() == data  # rewritten whole
    assert cached(1000) == list(range(1000))
    assert calls == [1000, 1000]


def test_garbage_entry_is_recomputed(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(square)
    cached(5)
    [item] = cached.store_backend.get_items(cached.func_id)
    (pathlib.Path(item.path) / "output.pkl").write_bytes(b"\x00garbage" * 10)
    with pytest.warns(CacheWarning):
        assert cached(5) == 25


def _is_root_like(path):
    probe = path / "probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


def test_read_only_location_returns_results_uncached(tmp_path):
    location = tmp_path / "ro"
    location.mkdir()
    os.chmod(location, 0o555)
    try:
        if _is_root_like(location):
            pytest.skip(
                "running as root: chmod does not block writes (see the mocked test)"
            )
        cached = Memory(location, verbose=0).cache(square)
        with pytest.warns(CacheWarning, match="returned uncached"):
            assert cached(3) == 9
    finally:
        os.chmod(location, 0o755)


@pytest.mark.parametrize("error", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_unwritable_or_full_location_returns_results_uncached(
    tmp_path, monkeypatch, error
):
    def refuse(*args, **kwargs):
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(FileSystemStoreBackend, "dump_item", refuse)
    monkeypatch.setattr(FileSystemStoreBackend, "store_cached_func_code", refuse)
    monkeypatch.setattr(os, "makedirs", refuse)
    cached = Memory(tmp_path / "cache", verbose=0).cache(square)
    with pytest.warns(CacheWarning, match="returned uncached"):
        assert cached(3) == 9
    with pytest.warns(CacheWarning):
        assert cached(3) == 9


def test_read_only_cache_still_serves_hits(tmp_path, monkeypatch):
    cached = Memory(tmp_path, verbose=0).cache(square)
    cached(7)

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "read-only")

    monkeypatch.setattr(os, "utime", refuse)
    monkeypatch.setattr(FileSystemStoreBackend, "dump_item", refuse)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached(7) == 49


def test_unpicklable_result_is_returned_with_a_warning(tmp_path):
    import threading

    def make_lock():
        return threading.Lock()

    cached = Memory(tmp_path, verbose=0).cache(make_lock)
    with pytest.warns(CacheWarning, match="cannot be stored"):
        lock = cached()
    assert lock.acquire(blocking=False)


def test_clear_function_and_memory(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    cached = memory.cache(square)
    cached(1)
    cached(2)
    cached.clear(warn=False)
    assert not cached.check_call_in_cache(1)
    cached(3)
    memory.clear(warn=False)
    assert not cached.check_call_in_cache(3)
    assert (tmp_path / "joblet" / ".gitignore").exists()
    assert cached(3) == 9


def test_validation_callback_and_expiry(tmp_path):
    calls = []

    def f(x):
        calls.append(x)
        return x

    memory = Memory(tmp_path, verbose=0)
    always_stale = memory.cache(f, cache_validation_callback=lambda metadata: False)
    always_stale(1)
    always_stale(1)
    assert calls == [1, 1]
    fresh = memory.cache(
        f, cache_validation_callback=joblet_memory.expires_after(hours=1)
    )
    fresh(2)
    fresh(2)
    assert calls == [1, 1, 2]
    expired = memory.cache(
        f, cache_validation_callback=joblet_memory.expires_after(seconds=-1)
    )
    assert not expired.check_call_in_cache(2)
    expired(2)
    assert calls == [1, 1, 2, 2]


def test_unknown_backend_and_option(tmp_path):
    with pytest.raises(ValueError, match="unknown store backend 'nope'"):
        Memory(tmp_path, backend="nope")
    with pytest.raises(ValueError, match="'loacl' \\(did you mean 'local'\\?\\)"):
        Memory(tmp_path, backend="loacl")
    with pytest.warns(UserWarning, match="'lok' \\(did you mean 'lock'\\?\\).*ignored"):
        memory = Memory(tmp_path, backend_options={"lok": False}, verbose=0)
    assert memory.cache(abs)(-1) == 1


class DictStore(StoreBackendBase):
    """A minimal in-memory backend, as a backend author would write one."""

    def configure(self, location, verbose=0, backend_options=None):
        self.location = f"dict:{location}"
        self.items = {}
        self.codes = {}

    def load_item(self, call_id, mmap_mode=None):
        return self.items[call_id][0]

    def dump_item(self, call_id, value, metadata, compress=False):
        self.items[call_id] = (value, metadata)
        return 1

    def contains_item(self, call_id):
        return call_id in self.items

    def get_metadata(self, call_id):
        return self.items[call_id][1]

    def clear_item(self, call_id):
        self.items.pop(call_id, None)

    def clear_path(self, func_id=""):
        for key in [k for k in self.items if k[0].startswith(func_id)]:
            del self.items[key]

    def get_cached_func_code(self, func_id):
        return self.codes.get(func_id)

    def store_cached_func_code(self, func_id, record):
        self.codes[func_id] = record

    def get_items(self, func_id=None):
        from joblet_memory import CacheItemInfo

        return [
            CacheItemInfo(f, a, f"{f}/{a}", 1, 0.0)
            for (f, a) in self.items
            if func_id is None or f == func_id
        ]


def test_register_store_backend(tmp_path):
    register_store_backend("dict", DictStore)
    memory = Memory("somewhere", backend="dict", verbose=0, items_limit=2)
    cached = memory.cache(square)
    assert [cached(i) for i in range(4)] == [0, 1, 4, 9]
    assert isinstance(memory.store_backend, DictStore)
    assert len(memory.store_backend.items) <= 2
    with pytest.raises(ValueError, match="subclass of StoreBackendBase"):
        register_store_backend("bad", dict)


def test_corrupted_entry_with_mmap_mode_still_returns_a_memmap(tmp_path):
    np = pytest.importorskip("numpy")
    cached = Memory(tmp_path, verbose=0, mmap_mode="r").cache(np.ones)
    cached(1000)
    [item] = cached.store_backend.get_items(cached.func_id)
    output = pathlib.Path(item.path) / "output.pkl"
    output.write_bytes(output.read_bytes()[:100])
    with pytest.warns(CacheWarning):
        value = cached(1000)
    assert isinstance(value, np.memmap)
    assert value.sum() == 1000


def test_large_array_argument_hit(tmp_path):
    np = pytest.importorskip("numpy")
    cached = Memory(tmp_path, verbose=0).cache(np.sum)
    data = np.arange(1_000_000, dtype=np.float64)
    assert cached(data) == data.sum()
    assert cached.check_call_in_cache(data.copy())
    changed = data.copy()
    changed[-1] += 1
    assert not cached.check_call_in_cache(changed)
