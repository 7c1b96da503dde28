"""Signed entries: nothing that was not written with the key is ever unpickled."""

from __future__ import annotations

import os
import pathlib
import pickle
import stat
import subprocess
import sys
import textwrap
import time
import uuid
import warnings

import pytest
from joblet_test_helpers import run_limited

import joblet_persist
from joblet_memory import CacheWarning, FileSystemStoreBackend, Memory
from joblet_memory._stores._signing import (
    KEY_ENV,
    TRAILER_MAGIC,
    TRAILER_SIZE,
    SignatureError,
    Signer,
    key_file_path,
)

KEY = b"k" * 32
# A local cache shared with a group: others could plant files, so it signs.
# (A folder only its user can write is read as it is: see test_trust.py.)
SHARED = {"permissions": "group"}


def double(x):
    return 2 * x


def arange(n):
    import numpy as np

    return np.arange(n, dtype=np.float64)


class Planted:
    """Unpickling it creates a marker file: proof that a pickle ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.fixture(params=["local", "memory", "s3"])
def location(request, tmp_path):
    """``(location, backend_options)`` of an empty cache on each kind of store."""
    if request.param == "local":
        return str(tmp_path / "cache"), dict(SHARED)
    if request.param == "memory":
        request.getfixturevalue("fsspec_required")
        return f"memory://joblet-{uuid.uuid4().hex}", {}
    return request.getfixturevalue("s3_cache")


def entry_of(memory, func):
    [item] = memory.store_backend.get_items(memory.cache(func).func_id)
    return item


def write_raw(memory, item, name, data):
    store = memory.store_backend
    if isinstance(store, FileSystemStoreBackend):
        pathlib.Path(item.path, name).write_bytes(data)
    else:
        store.fs.pipe_file(f"{item.path}/{name}", data)


def read_raw(memory, item, name):
    store = memory.store_backend
    if isinstance(store, FileSystemStoreBackend):
        return pathlib.Path(item.path, name).read_bytes()
    return store.fs.cat_file(f"{item.path}/{name}")


def planted_files(marker, tmp_path):
    """The shapes an attacker's file can take: all must be refused unread."""
    plain = pickle.dumps(Planted(marker))
    joblet_persist.dump(Planted(marker), tmp_path / "planted.joblet")
    persisted = (tmp_path / "planted.joblet").read_bytes()
    forged = persisted + os.urandom(TRAILER_SIZE - len(TRAILER_MAGIC)) + TRAILER_MAGIC
    return {"pickle": plain, "joblet file": persisted, "forged trailer": forged}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("shape", ["pickle", "joblet file", "forged trailer"])
def test_planted_pickle_never_runs(location, shape, tmp_path):
    url, options = location
    memory = Memory(url, verbose=0, backend_options=options)
    cached = memory.cache(double)
    assert cached(21) == 42
    item = entry_of(memory, double)
    marker = tmp_path / "marker"
    write_raw(memory, item, "output.pkl", planted_files(str(marker), tmp_path)[shape])
    with pytest.warns(
        CacheWarning, match=rf"{item.args_id}.*(unsigned|signature|another key)"
    ):
        assert cached(21) == 42
    assert not marker.exists()
    # Recomputed and stored again, signed: the next call is a silent hit.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached(21) == 42
    assert read_raw(memory, item, "output.pkl").endswith(TRAILER_MAGIC)


@pytest.mark.timeout(120)
def test_planted_pickle_never_runs_through_memorized_result(location, tmp_path):
    url, options = location
    memory = Memory(url, verbose=0, backend_options=options)
    shelved = memory.cache(double).call_and_shelve(4)
    item = entry_of(memory, double)
    marker = tmp_path / "marker"
    write_raw(memory, item, "output.pkl", pickle.dumps(Planted(str(marker))))
    with pytest.raises(SignatureError, match="unsigned"):
        shelved.get()
    assert not marker.exists()


@pytest.mark.timeout(120)
def test_tampered_pickle_stream_is_refused(location):
    url, options = location
    memory = Memory(url, verbose=0, backend_options=options)
    cached = memory.cache(double)
    cached("abc")
    item = entry_of(memory, double)
    data = read_raw(memory, item, "output.pkl")
    write_raw(memory, item, "output.pkl", data.replace(b"abcabc", b"xyzxyz"))
    with pytest.warns(CacheWarning, match="wrong signature"):
        assert cached("abc") == "abcabc"


def test_signature_is_bound_to_its_entry(tmp_path):
    """A signed result copied over another entry is refused (no swapping)."""
    memory = Memory(tmp_path, verbose=0, backend_options=SHARED)
    cached = memory.cache(double)
    cached(1), cached(2)
    one, two = sorted(memory.store_backend.get_items(), key=lambda i: i.path)
    data = pathlib.Path(one.path, "output.pkl").read_bytes()
    pathlib.Path(two.path, "output.pkl").write_bytes(data)
    with pytest.warns(CacheWarning, match="wrong signature"):
        assert {cached(1), cached(2)} == {2, 4}


def test_another_key_is_named(tmp_path):
    Memory(tmp_path, verbose=0, backend_options=SHARED, signing_key=KEY).cache(double)(
        3
    )
    other = Memory(
        tmp_path, verbose=0, backend_options=SHARED, signing_key=b"o" * 32
    ).cache(double)
    with pytest.warns(CacheWarning, match="signed with another key"):
        assert other(3) == 6


def test_unsigned_cache_needs_trust_unsigned(tmp_path):
    """A cache written before signing: refused, unless trust_unsigned=True."""
    cached = Memory(tmp_path, verbose=0, backend_options=SHARED).cache(double)
    cached(5)
    item = entry_of(Memory(tmp_path, verbose=0, backend_options=SHARED), double)
    output = pathlib.Path(item.path, "output.pkl")
    joblet_persist.dump("old value", output)  # as an older joblet wrote it
    trusting = Memory(
        tmp_path, verbose=0, backend_options=SHARED, trust_unsigned=True
    ).cache(double)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert trusting(5) == "old value"
    with pytest.warns(CacheWarning, match="unsigned.*trust_unsigned=True"):
        assert cached(5) == 10


def test_trust_unsigned_still_refuses_a_wrong_signature(tmp_path):
    Memory(tmp_path, verbose=0, backend_options=SHARED, signing_key=KEY).cache(double)(
        5
    )
    trusting = Memory(
        tmp_path, verbose=0, backend_options=SHARED, trust_unsigned=True
    ).cache(double)
    with pytest.warns(CacheWarning, match="another key"):
        assert trusting(5) == 10


def test_raw_array_buffers_are_not_signed(tmp_path):
    """Arrays are data, never executed: only header, table and pickle are signed."""
    np = pytest.importorskip("numpy")
    memory = Memory(tmp_path, verbose=0, backend_options=SHARED, mmap_mode="r")
    cached = memory.cache(arange)
    cached(1000)
    item = entry_of(memory, arange)
    path = pathlib.Path(item.path, "output.pkl")
    data = bytearray(path.read_bytes())
    where = data.rfind(np.float64(999.0).tobytes(), 0, len(data) - TRAILER_SIZE)
    data[where : where + 8] = np.float64(-1.0).tobytes()
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = cached(1000)
    assert isinstance(value, np.memmap)
    assert value[-1] == -1.0


def test_key_from_argument_then_environment_then_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert Signer(KEY).key == KEY
    monkeypatch.setenv(KEY_ENV, "e" * 20)
    assert Signer().key == b"e" * 20
    assert not os.path.exists(key_file_path())
    monkeypatch.delenv(KEY_ENV)
    key = Signer().key
    path = pathlib.Path(key_file_path())
    assert path.parent == tmp_path / "config" / "joblet"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert Signer().key == key  # created once, then read
    assert len(key) >= 32


def test_key_file_created_once_by_concurrent_processes(tmp_path):
    code = (
        "from joblet_memory._stores._signing import Signer; import sys; "
        "sys.stdout.write(Signer().key.decode())"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop(KEY_ENV, None)
    children = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE)
        for _ in range(6)
    ]
    keys = {child.communicate(timeout=60)[0] for child in children}
    assert len(keys) == 1
    assert len(keys.pop()) == 64


@pytest.mark.parametrize("key", [b"short", ""])
def test_short_keys_are_refused(key):
    with pytest.raises(ValueError, match="at least 16"):
        Memory("unused", signing_key=key)


def test_signer_never_shows_or_pickles_an_implicit_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "s" * 20)
    signer = Signer()
    assert signer.key == b"s" * 20  # resolved in this process
    assert "s" * 20 not in repr(signer)
    assert b"s" * 20 not in pickle.dumps(signer)
    assert pickle.loads(pickle.dumps(Signer(KEY))).key == KEY


# -- modes and links (local stores) ---------------------------------------------


def modes(root):
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


@pytest.mark.parametrize(
    ("permissions", "folder_mode", "file_mode"),
    [(None, 0o700, 0o600), ("group", 0o770, 0o660)],
)
def test_folder_and_file_modes(tmp_path, permissions, folder_mode, file_mode):
    options = {"permissions": permissions} if permissions else {}
    memory = Memory(tmp_path, verbose=0, backend_options=options)
    memory.cache(double)(1)
    found = modes(tmp_path / "joblet")
    names = {os.path.basename(path) for path in found}
    assert {
        ".gitignore",
        "func_code.json",
        "output.pkl",
        "metadata.json",
        ".lock",
    } <= names
    for path, mode in found.items():
        is_dir = (tmp_path / "joblet" / path).is_dir()
        assert mode == (folder_mode if is_dir else file_mode), (path, oct(mode))


def test_unknown_permissions_are_refused(tmp_path):
    with pytest.raises(ValueError, match="permissions='world'"):
        Memory(tmp_path, backend_options={"permissions": "world"})


def test_planted_symlink_is_never_followed(tmp_path):
    memory = Memory(tmp_path / "cache", verbose=0)
    cached = memory.cache(double)
    cached(1)
    func_folder = pathlib.Path(entry_of(memory, double).path).parent
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    # Replace the function's folder by a link out of the cache.
    for child in func_folder.rglob("*"):
        if child.is_file():
            child.unlink()
    for child in sorted(func_folder.rglob("*"), reverse=True):
        child.rmdir()
    func_folder.rmdir()
    func_folder.symlink_to(outside, target_is_directory=True)
    with pytest.warns(CacheWarning):
        assert cached(2) == 4  # computed; not stored through the link
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    cached.clear()
    memory.clear()
    assert (outside / "keep.txt").read_text() == "mine"


def test_output_symlink_is_not_read(tmp_path):
    memory = Memory(tmp_path / "cache", verbose=0)
    cached = memory.cache(double)
    cached(1)
    output = pathlib.Path(entry_of(memory, double).path, "output.pkl")
    target = tmp_path / "elsewhere.pkl"
    target.write_bytes(output.read_bytes())
    output.unlink()
    output.symlink_to(target)
    with pytest.warns(CacheWarning, match="cannot be read"):
        assert cached(1) == 2
    assert not output.is_symlink()  # replaced by a real, signed file


@pytest.mark.parametrize("key", [b"k" * 16, b"k" * 64, b"k" * 100])
def test_mac_is_standard_hmac_sha256(key):
    import hashlib
    import hmac

    from joblet_memory._stores._signing import _DOMAIN

    region = os.urandom(1000)
    expected = hmac.new(key, _DOMAIN + b"f/a\x00" + region, hashlib.sha256).digest()
    assert Signer(key).mac("f/a", region) == expected
    assert Signer(key).mac("f/a", memoryview(region)) == expected


@pytest.mark.timeout(60)
def test_a_remembered_file_changed_in_place_is_verified_again(tmp_path):
    """Hits skip re-checking a settled, verified file only while it is unchanged."""
    memory = Memory(tmp_path, verbose=0, backend_options=SHARED)
    cached = memory.cache(double)
    cached("abc")
    output = pathlib.Path(entry_of(memory, double).path, "output.pkl")
    time.sleep(2.2)  # settled: its verification is remembered from now on
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached("abc") == "abcabc"
        assert cached("abc") == "abcabc"
    data = output.read_bytes()
    with open(output, "r+b") as handle:  # same inode, same size
        handle.write(data.replace(b"abcabc", b"xyzxyz"))
    with pytest.warns(CacheWarning, match="wrong signature"):
        assert cached("abc") == "abcabc"


DAMAGE = textwrap.dedent(
    """
    import os, pathlib, struct, sys, warnings
    from joblet_memory import CacheWarning, Memory
    from joblet_memory._stores._signing import TRAILER_MAGIC, TRAILER_SIZE
    from joblet_persist import code_region_length as region_length

    def double(x):
        return 2 * x

    memory = Memory(sys.argv[1], verbose=0, backend_options={"permissions": "group"})
    cached = memory.cache(double)
    cached(7)
    [item] = memory.store_backend.get_items()
    output = pathlib.Path(item.path, "output.pkl")
    good = output.read_bytes()
    huge = good[:40] + struct.pack("<QQQQ", 1 << 55, 1 << 55, 1 << 55, 1 << 20)
    variants = [b"", os.urandom(10), os.urandom(5000), good[: len(good) // 2],
                good[:-1], huge + good[72:], b"\\x89JOBLET\\n" + TRAILER_MAGIC,
                os.urandom(100) + TRAILER_MAGIC]
    # Every signed byte and the MAC itself (the key id and padding are not
    # security relevant: a flip there may load fine).
    body = len(good) - TRAILER_SIZE
    signed = list(range(region_length(good, body))) + list(range(body, body + 32))
    for cut in signed[::3]:
        variants.append(good[:cut] + bytes([good[cut] ^ 1]) + good[cut + 1 :])
    for data in variants:
        output.write_bytes(data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert cached(7) == 14
        assert caught, data[:20]
        assert all(issubclass(w.category, CacheWarning) for w in caught)
    print("ok", len(variants))
    """
)


@pytest.mark.timeout(120)
def test_damaged_entries_never_crash_or_allocate(tmp_path):
    """Random, truncated, bit-flipped files: a warning and a recomputation each."""
    done = run_limited(DAMAGE, [str(tmp_path)], timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok")


@pytest.mark.timeout(60)
def test_a_file_renamed_over_a_verified_one_is_never_mapped(tmp_path, monkeypatch):
    """A signed hit with mmap_mode loads the very file it verified."""
    pytest.importorskip("numpy")
    memory = Memory(tmp_path, verbose=0, mmap_mode="r", backend_options=SHARED)
    cached = memory.cache(arange)
    cached(10)
    item = entry_of(memory, arange)
    output = pathlib.Path(item.path, "output.pkl")
    marker = tmp_path / "marker"
    planted = tmp_path / "planted.pkl"
    planted.write_bytes(pickle.dumps(Planted(str(marker))))
    original_remember = Signer.remember

    def swap_after_verifying(self, entry, stat):
        original_remember(self, entry, stat)
        os.replace(planted, output)  # a writer of the folder wins the race

    monkeypatch.setattr(Signer, "remember", swap_after_verifying)
    with pytest.warns(CacheWarning, match="replaced"):
        value = cached(10)
    assert list(value) == list(range(10))
    assert not marker.exists()
