"""The fsspec store: everything a local Memory does, on memory:// and real S3."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import uuid
import warnings

import pytest

from joblet_memory import (
    CacheWarning,
    FileSystemStoreBackend,
    MemorizedResult,
    Memory,
    expires_after,
)
from joblet_memory.__main__ import main as cli_main
from joblet_memory._stores._fsspec import FsspecStoreBackend

pytestmark = pytest.mark.usefixtures("fsspec_required")

CALLS: list[object] = []


def record(x, debug=False):
    CALLS.append(x)
    return {"x": x}


def blob(n):
    CALLS.append(n)
    return b"%d" % len(CALLS) * n  # n bytes or more, different per run


def big(n):
    import numpy as np

    CALLS.append(n)
    return np.arange(n, dtype=np.float64) + (len(CALLS) - 1)  # differs per run


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


@pytest.fixture(params=["memory", "s3"])
def remote(request):
    """``(url, backend_options)`` of an empty remote cache."""
    if request.param == "memory":
        return f"memory://joblet-{uuid.uuid4().hex}", {}
    return request.getfixturevalue("s3_cache")


def remote_memory(remote, **kwargs):
    url, options = remote
    return Memory(url, verbose=0, backend_options=options, **kwargs)


def stamp_step(remote):
    """S3 timestamps have 1 s resolution: space events that LRU must order."""
    if remote[0].startswith("s3://"):
        time.sleep(1.1)


@pytest.mark.timeout(120)
def test_cache_hit_ignore_and_check(remote):
    memory = remote_memory(remote)
    assert isinstance(memory.store_backend, FsspecStoreBackend)
    cached = memory.cache(record, ignore=["debug"])
    assert cached(1) == {"x": 1}
    assert cached(1, debug=True) == {"x": 1}
    assert CALLS == [1]
    assert cached.check_call_in_cache(1)
    assert not cached.check_call_in_cache(2)
    # Another Memory on the same URL (another process, another host) hits too.
    assert remote_memory(remote).cache(record, ignore=["debug"])(1) == {"x": 1}
    assert CALLS == [1]
    [item] = memory.store_backend.get_items()
    assert item.path.startswith(remote[0])
    metadata = memory.store_backend.get_metadata((item.func_id, item.args_id))
    assert metadata["input_args"] == {"x": "1"}


@pytest.mark.timeout(120)
def test_call_and_shelve_result_pickles_with_its_store(remote):
    memory = remote_memory(remote)
    shelved = memory.cache(record).call_and_shelve(7)
    assert isinstance(shelved, MemorizedResult)
    assert repr(shelved).startswith(f'MemorizedResult(location="{remote[0]}"')
    again = pickle.loads(pickle.dumps(shelved))
    assert again.get() == {"x": 7}
    assert CALLS == [7]
    again.clear()
    with pytest.raises(KeyError):
        shelved.get()


@pytest.mark.timeout(120)
def test_memorized_func_pickles_with_its_store(remote):
    cached = remote_memory(remote).cache(record)
    cached(3)
    clone = pickle.loads(pickle.dumps(cached))
    assert clone(3) == {"x": 3}
    assert CALLS == [3]


@pytest.mark.timeout(120)
def test_validation_callback_and_expiry(remote):
    memory = remote_memory(remote)
    rejecting = memory.cache(record, cache_validation_callback=lambda meta: False)
    rejecting(1), rejecting(1)
    assert CALLS == [1, 1]
    expiring = memory.cache(record, cache_validation_callback=expires_after(seconds=60))
    expiring(1)
    assert CALLS == [1, 1]  # the stored entry is recent: a hit
    expired = memory.cache(record, cache_validation_callback=expires_after(seconds=0))
    expired(1)
    assert CALLS == [1, 1, 1]


@pytest.mark.timeout(120)
def test_clear_function_and_everything(remote):
    memory = remote_memory(remote)
    cached = memory.cache(record)
    other = memory.cache(blob)
    cached(1), other(3)
    cached.clear(warn=False)
    assert {item.func_id for item in memory.store_backend.get_items()} == {
        other.func_id
    }
    memory.clear(warn=False)
    assert memory.store_backend.get_items() == []
    cached(1)
    assert CALLS == [1, 3, 1]


@pytest.mark.timeout(120)
def test_reduce_size_evicts_least_recently_used_without_rewriting(remote):
    memory = remote_memory(remote)
    cached = memory.cache(record)
    for x in (1, 2, 3):
        cached(x)
        stamp_step(remote)
    store = memory.store_backend
    first = next(
        i for i in store.get_items() if i.args_id == cached._call_id((1,), {})[1]
    )
    output = f"{first.path}/output.pkl"
    before = store.fs.info(output)
    cached(1)  # a hit: records its access beside the entry
    assert store.fs.info(output) == before  # the entry itself is untouched
    evicted = memory.reduce_size(items_limit=2)
    assert [item.args_id for item in evicted] == [cached._call_id((2,), {})[1]]
    CALLS.clear()
    cached(1), cached(3), cached(2)
    assert CALLS == [2]


@pytest.mark.timeout(120)
def test_bytes_limit_is_enforced_after_writes(remote):
    url, options = remote
    memory = Memory(url, verbose=0, backend_options=options, bytes_limit=1500)
    cached = memory.cache(blob)
    for n in (400, 500, 600):
        cached(n)
        stamp_step(remote)
    items = memory.store_backend.get_items()
    assert sum(item.size for item in items) <= 1500
    assert cached.check_call_in_cache(600)


@pytest.mark.timeout(120)
def test_mmap_mode_maps_a_local_copy_and_rechecks_the_remote(
    remote, tmp_path, monkeypatch
):
    np = pytest.importorskip("numpy")
    local = tmp_path / "local"
    memory = remote_memory(remote, mmap_mode="r", local_cache=local)
    cached = memory.cache(big)
    first = cached(1000)
    assert isinstance(first, np.memmap)
    assert str(first.filename).startswith(str(local))
    store = memory.store_backend
    downloads = []
    get_file = store.fs.get_file
    monkeypatch.setattr(
        store.fs,
        "get_file",
        lambda *a, **k: (downloads.append(a), get_file(*a, **k))[1],
    )
    again = cached(1000)
    assert isinstance(again, np.memmap)
    assert again[-1] == 999
    assert downloads == []  # the local copy, after checking the remote tag
    other = remote_memory(remote, mmap_mode="r", local_cache=tmp_path / "other")
    stamp_step(remote)
    other.cache(big).call(1000)  # another host rewrites the entry
    assert cached(1000)[-1] == 1000  # the new value, downloaded again
    assert [str(a[1]).startswith(str(local)) for a in downloads] == [False, True]
    assert CALLS == [1000, 1000]


@pytest.mark.timeout(120)
def test_cli_on_a_remote_store(remote, capsys):
    url, options = remote
    memory = remote_memory(remote)
    cached = memory.cache(record)
    cached(1), cached(2)
    flags = [f"-o{name}={json.dumps(value)}" for name, value in options.items()]

    def run(*args):
        code = cli_main([url, *flags, *args])
        return code, capsys.readouterr().out

    code, out = run("list")
    assert code == 0
    assert cached.func_id in out
    assert "2" in out.split(cached.func_id)[1].split()[0]
    assert run("show", "record")[1].count("x = ") == 2
    assert run("verify") == (0, "2 entries checked, 0 would be refused\n")
    [item, _] = memory.store_backend.get_items()
    memory.store_backend.fs.pipe_file(f"{item.path}/output.pkl", pickle.dumps(1))
    code, out = run("verify")
    assert code == 1
    assert f"{item.args_id}: cache entry" in out
    assert "unsigned" in out
    assert run("verify", "--clear")[0] == 0
    assert len(memory.store_backend.get_items()) == 1
    assert "removed 1 entr" in run("prune", "--items", "0")[1]
    cached(3)
    assert run("clear", "--all")[0] == 0
    assert memory.store_backend.get_items() == []


@pytest.mark.timeout(120)
def test_cli_process_with_an_s3_url(s3_cache):
    url, options = s3_cache
    memory = Memory(url, verbose=0, backend_options=options)
    memory.cache(record)(1)
    env = {
        **os.environ,
        "FSSPEC_S3_KEY": options["key"],
        "FSSPEC_S3_SECRET": options["secret"],
        "FSSPEC_S3_ENDPOINT_URL": options["client_kwargs"]["endpoint_url"],
    }
    done = subprocess.run(
        [sys.executable, "-m", "joblet_memory", url, "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test_fsspec_store/record" in done.stdout
    assert options["secret"] not in done.stdout + done.stderr


@pytest.mark.timeout(120)
def test_secrets_never_show(s3_cache, capsys, caplog):
    url, options = s3_cache
    secret = options["secret"]
    memory = Memory(url, verbose=10, backend_options=options)
    cached = memory.cache(record)
    cached(1), cached(1)
    cached.clear()
    shown = [repr(memory), repr(memory.store_backend), repr(cached), str(cached)]
    shown.append(repr(cached.call_and_shelve(2)))
    shown += [capsys.readouterr().out, caplog.text]
    assert not [text for text in shown if secret in text]


def test_urls_select_the_backend(tmp_path):
    assert isinstance(Memory("memory://x").store_backend, FsspecStoreBackend)
    store = Memory(f"file://{tmp_path}").store_backend
    assert isinstance(store, FileSystemStoreBackend)
    assert store.location == str(tmp_path / "joblet")
    explicit = Memory("memory://y", backend="fsspec").store_backend
    assert isinstance(explicit, FsspecStoreBackend)
    assert explicit.location == "memory://y/joblet"


@pytest.mark.parametrize(
    ("missing", "url", "extra"),
    [
        ("fsspec", "memory://x", "joblet-memory[fsspec]"),
        ("s3fs", "s3://b/p", "joblet-memory[s3]"),
    ],
)
def test_missing_extra_is_named(monkeypatch, missing, url, extra):
    import fsspec  # noqa: F401 (loads fsspec.registry)

    loaded = sys.modules["fsspec.registry"]._registry
    for protocol in ("s3", "s3a"):  # forget the driver class fsspec has loaded
        monkeypatch.delitem(loaded, protocol, raising=False)
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(
        ImportError, match=extra.replace("[", r"\[").replace("]", r"\]")
    ):
        Memory(url)


@pytest.mark.timeout(120)
def test_failed_upload_leaves_no_entry(remote, monkeypatch):
    memory = remote_memory(remote)
    store = memory.store_backend

    def broken_put(*args, **kwargs):
        raise OSError("connection reset during upload")

    monkeypatch.setattr(store.fs, "put_file", broken_put)
    cached = memory.cache(record)
    with pytest.warns(CacheWarning, match="returned uncached"):
        assert cached(5) == {"x": 5}
    assert store.get_items() == []
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached(5) == {"x": 5}
    assert CALLS == [5, 5]


@pytest.mark.timeout(120)
def test_explain_and_cache_info(remote):
    memory = remote_memory(remote)
    cached = memory.cache(record)
    cached(1), cached(1)
    assert cached.explain(1).hit
    miss = cached.explain(2)
    assert not miss.hit
    assert "differs at x" in str(miss)
    info = cached.cache_info()
    assert (info.hits, info.misses, info.stores) == (1, 1, 1)
