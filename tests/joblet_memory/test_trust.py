"""Which caches are read without signatures: the threat model of "Is the cache safe?".

A folder only its user can write is trusted as it is (as joblib's cache), so a
cache copied there gives hits; a folder others can write, and every remote
store, signs its entries; a chosen key opts any location in.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import shutil
import warnings

import pytest

from joblet_memory import CacheWarning, Memory
from joblet_memory._stores._signing import KEY_ENV, TRAILER_MAGIC, key_file_path
from joblet_memory._stores._trust import why_not_private

KEY = "k" * 32
calls: list[object] = []


def double(x):
    calls.append(x)
    return 2 * x


class Planted:
    """Unpickling it creates a marker file: proof that a pickle ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def output_of(memory: Memory) -> pathlib.Path:
    [item] = memory.store_backend.get_items()
    return pathlib.Path(item.path, "output.pkl")


@pytest.fixture
def key_file(tmp_path, monkeypatch) -> pathlib.Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(KEY_ENV, raising=False)
    return pathlib.Path(key_file_path())


def hits_silently(memory: Memory, argument: object, expected: object) -> None:
    """``memory``'s cached ``double`` returns ``expected`` without computing."""
    calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert memory.cache(double)(argument) == expected
    assert calls == [], "recomputed instead of a hit"


def test_a_private_folder_is_trusted_and_needs_no_key(tmp_path, key_file):
    memory = Memory(tmp_path / "cache", verbose=0)
    memory.cache(double)(4)
    assert why_not_private(str(tmp_path / "cache" / "joblet")) is None
    assert not output_of(memory).read_bytes().endswith(TRAILER_MAGIC)
    assert not key_file.exists()  # no key is created for a private cache
    hits_silently(memory, 4, 8)


@pytest.mark.parametrize("written_with", ["another key", "group permissions"])
@pytest.mark.parametrize("compress", [False, 3, "lz4"])
def test_a_copied_cache_hits(tmp_path, written_with, compress):
    """A CI cache restore, a container image, a colleague's folder: all hits."""
    if compress == "lz4":
        pytest.importorskip("lz4")  # an extra of joblet-persist
    source = tmp_path / "source"
    if written_with == "another key":
        writer = Memory(source, verbose=0, compress=compress, signing_key="o" * 32)
    else:
        writer = Memory(
            source,
            verbose=0,
            compress=compress,
            backend_options={"permissions": "group"},
        )
    writer.cache(double)("abc")
    assert output_of(writer).read_bytes().endswith(TRAILER_MAGIC)
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)  # as `cp -r` does: modes kept, owned by us
    (copy / "joblet").chmod(0o700)  # what makes a folder private (documented)
    hits_silently(Memory(copy, verbose=0, compress=compress), "abc", "abcabc")


@pytest.mark.parametrize(
    "make_shared",
    ["group-writable cache folder", "world-writable parent without sticky bit"],
)
def test_a_folder_others_can_write_signs_and_refuses_planted_files(
    tmp_path, make_shared
):
    location = tmp_path / "shared" / "cache"
    location.mkdir(parents=True)
    if make_shared == "group-writable cache folder":
        (location / "joblet").mkdir(mode=0o700)
        (location / "joblet").chmod(0o770)
    else:
        (tmp_path / "shared").chmod(0o777)
    memory = Memory(location, verbose=0)
    cached = memory.cache(double)
    cached(21)
    output = output_of(memory)
    assert output.read_bytes().endswith(TRAILER_MAGIC)
    marker = tmp_path / "marker"
    output.write_bytes(pickle.dumps(Planted(str(marker))))
    with pytest.warns(CacheWarning, match="unsigned"):
        assert Memory(location, verbose=0).cache(double)(21) == 42
    assert not marker.exists()


def test_a_chosen_key_opts_a_private_folder_in(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    memory = Memory(tmp_path / "cache", verbose=0)
    memory.cache(double)(1)
    assert output_of(memory).read_bytes().endswith(TRAILER_MAGIC)
    monkeypatch.delenv(KEY_ENV)
    keyed = Memory(tmp_path / "other", verbose=0, signing_key=KEY)
    keyed.cache(double)(1)
    assert output_of(keyed).read_bytes().endswith(TRAILER_MAGIC)


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder away needs root")
def test_a_folder_owned_by_someone_else_signs(tmp_path):
    location = tmp_path / "cache"
    (location / "joblet").mkdir(parents=True, mode=0o700)
    os.chown(location / "joblet", 12345, -1)
    assert "owned by another user" in why_not_private(str(location / "joblet"))


def test_a_missing_folder_is_judged_by_its_parents(tmp_path):
    assert why_not_private(str(tmp_path / "not" / "yet")) is None
    (tmp_path / "open").mkdir(mode=0o777)
    (tmp_path / "open").chmod(0o777)
    reason = why_not_private(str(tmp_path / "open" / "not-yet"))
    assert "without the sticky bit" in reason
    (tmp_path / "open").chmod(0o1777)  # as /tmp
    assert why_not_private(str(tmp_path / "open" / "not-yet")) is None


# -- the key file -------------------------------------------------------------------


def shared_cache_call(tmp_path) -> None:
    memory = Memory(tmp_path / "c", verbose=0, backend_options={"permissions": "group"})
    memory.cache(double)(1)


def test_the_key_file_is_created_private(tmp_path, key_file):
    shared_cache_call(tmp_path)
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_key_file_readable_by_others_is_refused(tmp_path, key_file):
    shared_cache_call(tmp_path)
    key_file.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        Memory(tmp_path / "d", verbose=0, signing_key=None).store_backend.signer.key  # noqa: B018
    with pytest.warns(CacheWarning, match="chmod 600"):
        shared_cache_call(tmp_path)


def test_a_symlinked_key_file_is_refused(tmp_path, key_file):
    target = tmp_path / "elsewhere"
    target.write_text("x" * 64)
    target.chmod(0o600)
    key_file.parent.mkdir(parents=True)
    key_file.symlink_to(target)
    with pytest.raises(PermissionError, match="symbolic link"):
        Memory(tmp_path / "d", verbose=0).store_backend.signer.key  # noqa: B018


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file away needs root")
def test_a_key_file_of_another_user_is_refused(tmp_path, key_file):
    shared_cache_call(tmp_path)
    os.chown(key_file, 12345, -1)
    with pytest.raises(PermissionError, match="owned by another user"):
        Memory(tmp_path / "d", verbose=0).store_backend.signer.key  # noqa: B018
