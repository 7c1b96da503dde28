"""dump/load of plain Python objects: paths, file objects, compressors (no numpy)."""

from __future__ import annotations

import bz2
import collections
import datetime
import decimal
import gzip
import io
import lzma
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import joblet_persist
from joblet_persist import dump, inspect_file, load

VALUES = [
    None,
    0,
    -(10**40),
    3.5,
    "text é",
    b"\x00bytes",
    bytearray(b"mutable"),
    [1, [2, [3]]],
    (1, "a", None),
    {"a": 1, 2: "b", (3, 4): [5]},
    {1, 2, 3},
    frozenset({"x"}),
    collections.OrderedDict(a=1),
    datetime.datetime(2024, 5, 1, 12, 30),
    decimal.Decimal("1.25"),
    [{"id": i, "name": f"n{i}"} for i in range(1000)],
]

COMPRESS = [
    0,
    False,
    True,
    1,
    9,
    "zlib",
    "gzip",
    "bz2",
    "lzma",
    "xz",
    ("zlib", 3),
    ("xz", 1),
]


def _need(compress):
    name = compress[0] if isinstance(compress, tuple) else compress
    if name == "lz4":
        pytest.importorskip("lz4")


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_roundtrip_values(tmp_path, value):
    path = tmp_path / "v.joblet"
    assert dump(value, path) == [str(path)]
    assert load(path) == value


@pytest.mark.parametrize("compress", [*COMPRESS, "lz4", ("lz4", 5)], ids=repr)
def test_roundtrip_compressed(tmp_path, compress):
    _need(compress)
    value = {
        "rows": [{"k": i, "v": "x" * (i % 7)} for i in range(30000)],
        "blob": b"ab" * 10**6,
    }
    path = tmp_path / "c.joblet"
    dump(value, path, compress=compress)
    assert load(path) == value


def test_compression_shrinks_and_is_recognised(tmp_path):
    value = ["same text"] * 100000
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    dump(value, plain)
    dump(value, packed, compress=("gzip", 3))
    assert packed.stat().st_size < plain.stat().st_size / 10
    assert inspect_file(packed).compression == "gzip"
    assert inspect_file(plain).compression is None


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        (".z", "zlib"),
        (".gz", "gzip"),
        (".bz2", "bz2"),
        (".xz", "xz"),
        (".lzma", "lzma"),
        (".lz4", "lz4"),
    ],
)
def test_extension_picks_compressor(tmp_path, suffix, codec):
    _need(codec)
    path = tmp_path / f"data.pkl{suffix}"
    dump(["x"] * 1000, path)
    assert inspect_file(path).compression.startswith(codec)
    assert load(path) == ["x"] * 1000


def test_explicit_tuple_beats_extension(tmp_path):
    path = tmp_path / "data.gz"
    dump([1], path, compress=("bz2", 3))
    assert inspect_file(path).compression == "bz2"
    assert path.read_bytes()[:3] == b"BZh"


def test_codec_found_from_bytes_not_name(tmp_path):
    path = tmp_path / "data.gz"
    dump(list(range(100)), path, compress="xz")
    renamed = tmp_path / "data.bin"
    path.rename(renamed)
    assert load(renamed) == list(range(100))


@pytest.mark.parametrize("kind", ["str", "pathlib", "bytes"])
def test_path_kinds(tmp_path, kind):
    path = tmp_path / "p.joblet"
    target = {"str": str(path), "pathlib": path, "bytes": os.fsencode(path)}[kind]
    dump({"a": 1}, target)
    assert load(target) == {"a": 1}


@pytest.mark.parametrize("compress", [0, 3, "bz2"], ids=repr)
def test_open_file_objects(tmp_path, compress):
    path = tmp_path / "f.joblet"
    with open(path, "wb") as handle:
        assert dump([1, 2], handle, compress=compress) is None
    with open(path, "rb") as handle:
        assert load(handle) == [1, 2]


@pytest.mark.parametrize(
    "opener",
    [gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile],
    ids=["GzipFile", "BZ2File", "LZMAFile"],
)
def test_compressor_file_objects(tmp_path, opener):
    path = tmp_path / "f.cmp"
    value = [("a", [1, 2, 3]), ("b", list(range(10)))]
    with opener(path, "wb") as handle:
        dump(value, handle)
    with opener(path, "rb") as handle:
        assert load(handle) == value
    assert load(path) == value  # the outer stream is recognised by its magic


def test_bytesio_and_unseekable_stream():
    sink = io.BytesIO()
    dump({"x": b"y" * 1000}, sink, compress="zlib")
    assert load(io.BytesIO(sink.getvalue())) == {"x": b"y" * 1000}

    class Unseekable(io.RawIOBase):
        def __init__(self, data):
            self._data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            return self._data.readinto(buffer)

    assert load(io.BufferedReader(Unseekable(sink.getvalue()))) == {"x": b"y" * 1000}


@pytest.mark.parametrize("protocol", [None, -1, 2, 4, 5])
def test_protocols(tmp_path, protocol):
    dump({"p": protocol}, tmp_path / "p", protocol=protocol)
    assert load(tmp_path / "p") == {"p": protocol}


def test_plain_pickle_files_load(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"plain": [1, 2]}, protocol=4))
    assert load(path) == {"plain": [1, 2]}
    with open(path, "rb") as handle:
        assert load(handle) == {"plain": [1, 2]}


def test_protocol5_buffers_out_of_band(tmp_path):
    class Blob:
        def __init__(self, data):
            self.data = data

        def __reduce_ex__(self, protocol):
            return (bytearray, (pickle.PickleBuffer(self.data),))

    blob = bytearray(b"z" * 100_000)
    path = tmp_path / "blob"
    dump([Blob(blob)], path)
    assert inspect_file(path).buffers == [100_000]
    assert load(path) == [blob]


def test_atomic_failure_keeps_previous_file(tmp_path):
    class Exploding:
        def __reduce__(self):
            raise KeyboardInterrupt

    path = tmp_path / "keep.joblet"
    dump("old", path)
    with pytest.raises(KeyboardInterrupt):
        dump(["new", Exploding()], path)
    assert load(path) == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.joblet"]


def test_interrupt_while_writing_leaves_nothing(tmp_path, monkeypatch):
    import joblet_persist._dump as dump_module

    def interrupted(file, data):
        file.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(dump_module, "_write_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        dump([1], tmp_path / "never.joblet")
    assert list(tmp_path.iterdir()) == []


def test_file_mode_follows_umask(tmp_path):
    dump(1, tmp_path / "mode")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "mode").stat().st_mode & 0o777 == 0o666 & ~umask


# Imported on first use only: importing joblet_persist (which every Parallel and
# Memory program does) must stay cheap.
LAZY_MODULES = (
    "numpy",
    "lz4",
    "xxhash",
    "bz2",
    "gzip",
    "socket",
    "concurrent.futures",
    "joblet_persist._compression.builtin",
    "joblet_persist._compression.streams",
    "joblet_persist._inspect",
    "joblet_persist._format_v1",
    "joblet_persist._restricted",
    "joblet_persist._joblib_reader",
    "joblet_persist._joblib_writer",
)


def test_import_leaves_optional_and_codec_modules_unimported():
    code = (
        "import sys, joblet_persist\n"
        f"print([m for m in {LAZY_MODULES!r} if m in sys.modules])\n"
        "joblet_persist.inspect_file  # imported on first use\n"
        "print('joblet_persist._inspect' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == ["[]", "True"]


def test_compressors_registered_before_first_use_keep_the_built_ins(tmp_path):
    # the built-ins load on first use of the registry, so one registered first
    # must neither hide nor be replaced by them
    code = (
        "import bz2, joblet_persist\n"
        "joblet_persist.register_compressor('mine', joblet_persist.CompressorWrapper("
        "obj=bz2.BZ2File, prefix=b'BZh', extension='.mine'))\n"
        f"joblet_persist.dump([1], {str(tmp_path / 'a.mine')!r})\n"
        f"joblet_persist.dump([2], {str(tmp_path / 'b.xz')!r})\n"
        f"print(joblet_persist.load({str(tmp_path / 'a.mine')!r}),"
        f" joblet_persist.load({str(tmp_path / 'b.xz')!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["[1]", "[2]"]
    assert (tmp_path / "a.mine").read_bytes()[:3] == b"BZh"
    assert (tmp_path / "b.xz").read_bytes()[:6] == b"\xfd7zXZ\x00"


def test_public_api():
    assert {"dump", "load", "register_compressor", "CompressorWrapper"} <= set(
        joblet_persist.__all__
    )
    for name in joblet_persist.__all__:
        assert hasattr(joblet_persist, name)


def test_joblib_013_docs_compressed_examples_without_numpy(tmp_path):
    to_persist = [("a", [1, 2, 3]), ("b", list(range(10)))]
    filename = str(tmp_path / "test.joblib")
    assert dump(to_persist, filename + ".compressed", compress=True) == [
        filename + ".compressed"
    ]
    assert dump(to_persist, filename + ".z") == [filename + ".z"]
    assert dump(to_persist, filename + ".gz", compress=("gzip", 3)) == [
        filename + ".gz"
    ]
    assert load(filename + ".gz") == to_persist
    assert dump(to_persist, filename + ".bz2", compress=("bz2", 3)) == [
        filename + ".bz2"
    ]
    assert load(filename + ".bz2") == to_persist
    assert dump(to_persist, filename + ".gz", compress="gzip") == [filename + ".gz"]
    with gzip.GzipFile(filename + ".gz", "wb", compresslevel=3) as fo:
        dump(to_persist, fo)
    with gzip.GzipFile(filename + ".gz", "rb") as fo:
        assert load(fo) == to_persist
    assert load(Path(filename + ".compressed")) == to_persist
