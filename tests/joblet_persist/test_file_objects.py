"""Streams and file objects, custom compressors as joblib users write them,
and the temporary files of interrupted dumps."""

from __future__ import annotations

import bz2
import gzip
import io
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading

import pytest

from joblet_persist import (
    CompressorWrapper,
    dump,
    inspect_file,
    load,
    register_compressor,
)
from joblet_persist._atomic import sweep_temporaries, temporary_name


@pytest.mark.timeout(30)
def test_several_dumps_from_a_socket_that_stays_open():
    writer_socket, reader_socket = socket.socketpair()
    with writer_socket, reader_socket:
        writer = writer_socket.makefile("wb")
        reader = reader_socket.makefile("rb")
        dump({"first": list(range(100))}, writer)
        dump(b"second" * 1000, writer)
        writer.write(pickle.dumps({"plain": "pickle"}))
        writer.flush()  # the peer stays open: a read to EOF would hang
        assert load(reader) == {"first": list(range(100))}
        assert load(reader) == b"second" * 1000
        assert load(reader) == {"plain": "pickle"}


def test_several_dumps_in_one_file_load_in_order(tmp_path):
    path = tmp_path / "stream"
    with open(path, "wb") as handle:
        for item in ({"a": 1}, [2], "three"):
            dump(item, handle)
    with open(path, "rb") as handle:
        assert [load(handle) for _ in range(3)] == [{"a": 1}, [2], "three"]


@pytest.mark.parametrize("compress", [0, "gzip"])
def test_a_bytesio_not_rewound_loads_as_in_joblib(compress):
    sink = io.BytesIO()
    dump({"x": [1, 2]}, sink, compress=compress)
    assert load(sink) == {"x": [1, 2]}  # positioned at its end: read from 0


def test_joblib_also_loads_a_bytesio_not_rewound():
    joblib = pytest.importorskip("joblib")
    sink = io.BytesIO()
    joblib.dump({"x": [1, 2]}, sink)
    assert joblib.load(sink) == load(sink) == {"x": [1, 2]}


class ReversedFile(io.RawIOBase):
    """A toy whole-stream compressor: a prefix, then the bytes reversed."""

    PREFIX = b"REV1"

    def __init__(self, fileobj, mode="rb", compresslevel=None):
        super().__init__()
        self._file = fileobj
        self._reading = mode.startswith("r")
        self._data = bytearray()
        if self._reading:
            assert fileobj.read(len(self.PREFIX)) == self.PREFIX
            self._data = bytearray(fileobj.read()[::-1])

    def readable(self):
        return self._reading

    def writable(self):
        return not self._reading

    def readinto(self, buffer):
        n = min(len(buffer), len(self._data))
        buffer[:n] = self._data[:n]
        del self._data[:n]
        return n

    def write(self, data):
        self._data += bytes(data)
        return len(data)

    def close(self):
        if not self.closed and not self._reading:
            self._file.write(self.PREFIX + bytes(self._data[::-1]))
        super().close()


NAME_20 = "reversed-compressor1"


@pytest.fixture(autouse=True)
def _registry():
    """Compressors registered by a test are gone after it (ours and joblib's)."""
    from joblet_persist._compression import registry as _compressors

    registries = [_compressors._registry()]  # the built-ins loaded
    try:
        from joblib import compressor
    except ImportError:
        pass
    else:
        registries.append(compressor._COMPRESSORS)
    saved = [dict(registry) for registry in registries]
    yield
    for registry, content in zip(registries, saved, strict=True):
        registry.clear()
        registry.update(content)


def test_joblib_style_wrapper_with_a_long_name(tmp_path):
    assert len(NAME_20) == 20
    register_compressor(
        NAME_20,
        CompressorWrapper(obj=ReversedFile, prefix=b"REV1", extension=".rev"),
        force=True,
    )
    value = {"rows": list(range(500))}
    for path, compress in [
        (tmp_path / "a.pkl", (NAME_20, 3)),
        (tmp_path / "b.pkl", NAME_20),
        (tmp_path / "c.pkl.rev", 0),  # by extension
    ]:
        dump(value, path, compress=compress)
        stored = path.read_bytes()
        assert stored.startswith(b"REV1")  # its magic first
        assert NAME_20.encode() not in stored  # the name is not in the file
        assert load(path) == value
        # its own file class decodes the whole file into a plain dump
        with open(path, "rb") as handle, ReversedFile(handle) as inner:
            assert load(io.BytesIO(inner.read())) == value


class GzipTagged(CompressorWrapper):
    """A subclass overriding compressor_file/decompressor_file, as in joblib."""

    prefix = b"GZT!"
    extension = ".gzt"

    def compressor_file(self, fileobj, compresslevel=None):
        fileobj.write(self.prefix)
        return gzip.GzipFile(
            fileobj=fileobj, mode="wb", compresslevel=compresslevel or 1
        )

    def decompressor_file(self, fileobj):
        assert fileobj.read(len(self.prefix)) == self.prefix
        return gzip.GzipFile(fileobj=fileobj, mode="rb")


def test_subclass_is_a_whole_stream_compressor(tmp_path):
    register_compressor("gzip-tagged", GzipTagged(), force=True)
    path = tmp_path / "x.gzt"
    dump(["x"] * 1000, path)
    stored = path.read_bytes()
    assert stored.startswith(b"GZT!\x1f\x8b")
    assert gzip.decompress(stored[4:])[:8] == b"\x89JOBLET\n"
    assert load(path) == ["x"] * 1000
    assert inspect_file(path).compression.startswith("gzip-tagged")


def test_joblib_wrapper_instance_works_in_joblet(tmp_path):
    # the same CompressorWrapper call a joblib user writes for joblib
    joblib = pytest.importorskip("joblib")
    from joblib import compressor as joblib_compressor

    for module in (joblib_compressor, sys.modules["joblet_persist"]):
        module.register_compressor(
            "bz2-joblib-style",
            module.CompressorWrapper(obj=bz2.BZ2File, prefix=b"BZh", extension=".bzj"),
            force=True,
        )
    value = {"a": list(range(100))}
    ours, theirs = tmp_path / "ours.bzj", tmp_path / "theirs.bzj"
    dump(value, ours)
    joblib.dump(value, theirs)
    assert bz2.decompress(ours.read_bytes())[:8] == b"\x89JOBLET\n"
    assert load(ours) == joblib.load(theirs) == load(theirs) == value


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_dead_writers_are_swept(tmp_path):
    target = tmp_path / "model.pkl"
    alive = tmp_path / temporary_name("model.pkl")
    alive.write_bytes(b"in progress")  # this process: a write in progress
    stale = tmp_path / temporary_name("model.pkl").replace(
        f"-{os.getpid()}-", f"-{_dead_pid()}-"
    )
    stale.write_bytes(b"x" * 100)
    other = tmp_path / ".notes.txt.tmp"  # not ours: never touched
    other.write_bytes(b"keep")
    assert sweep_temporaries(tmp_path, remove=False) == [(str(stale), 100)]
    assert stale.exists()
    dump([1], target)  # a dump sweeps the temporaries beside its target
    assert not stale.exists()
    assert alive.exists()
    assert other.exists()
    assert load(target) == [1]


@pytest.mark.timeout(60)
def test_dump_killed_leaves_a_temporary_the_next_dump_removes(tmp_path):
    target = tmp_path / "big.pkl"
    code = (
        "import os, signal, joblet_persist._atomic as a\n"
        "def write(f):\n"
        "    f.write(b'x' * 1000)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"a.atomic_write({str(target)!r}, write)\n"
    )
    done = subprocess.run([sys.executable, "-c", code])
    assert done.returncode == -signal.SIGKILL
    leftovers = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert len(leftovers) == 1
    dump("fresh", target)
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []
    assert load(target) == "fresh"


def test_concurrent_dumps_keep_each_others_temporaries(tmp_path):
    target = tmp_path / "shared.pkl"
    errors = []

    def work(index):
        try:
            for _ in range(20):
                dump(list(range(index * 1000)), target)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(load(target)) in (0, 1000, 2000)
