"""Restricted loading, inspect, the command line, custom compressors."""

from __future__ import annotations

import bz2
import collections
import gzip
import io
import os
import pickle
import subprocess
import sys

import pytest

import joblet_persist
from joblet_persist import (
    DEFAULT_ALLOWED_GLOBALS,
    CompressorWrapper,
    UnsafeGlobalError,
    dump,
    inspect_file,
    load,
    register_compressor,
)


class Point:
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return isinstance(other, Point) and other.x == self.x


class Outer:
    class Inner(Point):
        pass


def test_restricted_refuses_and_names_global(tmp_path):
    dump([Point(1)], tmp_path / "p")
    with pytest.raises(UnsafeGlobalError, match=r"test_safety\.Point") as info:
        load(tmp_path / "p", allowed_globals=())
    assert info.value.global_name.endswith("test_safety.Point")


@pytest.mark.parametrize("how", ["object", "name", "module"])
def test_restricted_allows_what_is_listed(tmp_path, how):
    dump([Point(1)], tmp_path / "p")
    allowed = {
        "object": [Point],
        "name": [f"{Point.__module__}.Point"],
        "module": [f"{Point.__module__}.*"],
    }[how]
    assert load(tmp_path / "p", allowed_globals=allowed) == [Point(1)]


def test_restricted_refuses_code_execution(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(UnsafeGlobalError, match=r"'(os|posix)\.system'"):
        load(tmp_path / "evil.pkl", allowed_globals=())
    report = inspect_file(tmp_path / "evil.pkl")
    assert report.globals == [f"{os.system.__module__}.system"]


def test_restricted_default_containers(tmp_path):
    value = {"a": {1, 2}, "b": collections.OrderedDict(x=1), "c": (1.5, b"x", None)}
    dump(value, tmp_path / "c", compress=3)
    assert load(tmp_path / "c", allowed_globals=()) == value
    assert "builtins.eval" not in DEFAULT_ALLOWED_GLOBALS


def test_restricted_numpy(tmp_path):
    np = pytest.importorskip("numpy")
    value = [np.arange(5), np.array([1, None], dtype=object), np.float64(2.0)]
    dump(value, tmp_path / "n")
    loaded = load(tmp_path / "n", allowed_globals=())
    assert loaded[0].tolist() == [0, 1, 2, 3, 4]
    assert loaded[1].tolist() == [1, None]


def test_inspect_reports_without_executing(tmp_path):
    dump({"p": Point(3), "rows": [1, 2]}, tmp_path / "i", compress="bz2")
    report = inspect_file(tmp_path / "i")
    assert report.format.startswith("joblet-persist")
    assert report.compression == "bz2"
    assert report.globals == [f"{Point.__module__}.Point"]
    assert "Point" in str(report)


def test_inspect_arrays(tmp_path):
    np = pytest.importorskip("numpy")
    dump([np.zeros((3, 4), dtype="<f4"), np.ones(2, dtype="u1")], tmp_path / "a")
    report = inspect_file(tmp_path / "a")
    assert [(a["dtype"], tuple(a["shape"]), a["nbytes"]) for a in report.arrays] == [
        ("<f4", (3, 4), 48),
        ("|u1", (2,), 2),
    ]


def test_command_line_inspect(tmp_path):
    dump({"p": Point(3)}, tmp_path / "cli.gz")
    out = subprocess.run(
        [sys.executable, "-m", "joblet_persist", "inspect", str(tmp_path / "cli.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "compression: gzip" in out
    assert "Point" in out
    failed = subprocess.run(
        [sys.executable, "-m", "joblet_persist", "inspect", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 1
    assert "error" in failed.stderr


class ReversedGzip(CompressorWrapper):
    """A file-object compressor as joblib users write them, with a new prefix."""

    def __init__(self):
        super().__init__(prefix=b"RGZ!", extension=".rgz")

    def compressor_file(self, fileobj, compresslevel=None):
        fileobj.write(self.prefix)
        return gzip.GzipFile(
            fileobj=fileobj, mode="wb", compresslevel=compresslevel or 3
        )

    def decompressor_file(self, fileobj):
        assert fileobj.read(len(self.prefix)) == self.prefix
        return gzip.GzipFile(fileobj=fileobj, mode="rb")


def test_register_compressor(tmp_path):
    register_compressor("rgzip", ReversedGzip(), force=True)
    value = {"x": list(range(1000))}
    dump(value, tmp_path / "r", compress="rgzip")
    assert load(tmp_path / "r") == value
    dump(value, tmp_path / "r.rgz")  # extension
    assert inspect_file(tmp_path / "r.rgz").compression.startswith("rgzip")
    # whole-stream files with its prefix are recognised too
    sink = io.BytesIO()
    with ReversedGzip().compressor_file(sink) as stream:
        dump(value, stream)
    assert load(io.BytesIO(sink.getvalue())) == value


def test_register_compressor_errors():
    with pytest.raises(ValueError, match="already registered"):
        register_compressor("zlib", ReversedGzip())
    with pytest.raises(ValueError, match="CompressorWrapper"):
        register_compressor("thing", object())
    with pytest.raises(ValueError, match="non-empty str"):
        register_compressor("", ReversedGzip())


def test_wrapper_with_factory():
    wrapper = CompressorWrapper(obj=bz2.BZ2File, prefix=b"BZ", extension=".bz2")
    packed = wrapper.compress_chunk(memoryview(b"abc" * 100), 5)
    assert wrapper.decompress_chunk(packed, 300) == b"abc" * 100
    assert joblet_persist.CompressorWrapper is CompressorWrapper


def test_lz4_missing_message(monkeypatch, tmp_path):
    import joblet_persist._compression.builtin as codecs

    monkeypatch.setattr(
        codecs.LZ4CompressorWrapper,
        "available",
        lambda self: codecs.LZ4_MISSING,
    )
    with pytest.raises(ValueError, match=r"pip install 'joblet-persist\[lz4\]'"):
        dump(1, tmp_path / "x", compress="lz4")


def _text(value: str) -> bytes:
    raw = value.encode()
    return b"\x8c" + bytes([len(raw)]) + raw  # SHORT_BINUNICODE


def _global(module: str, name: str) -> bytes:
    return _text(module) + _text(name) + b"\x93"  # STACK_GLOBAL


@pytest.mark.parametrize("container", [False, True])
def test_restricted_memmap_cannot_touch_files(tmp_path, container):
    np = pytest.importorskip("numpy")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious data")
    # numpy.memmap(victim, 'u1', 'w+', 0, (1,)): would truncate the file
    stream = (
        b"\x80\x04"
        + _global("numpy", "memmap")
        + b"("
        + _text(str(victim))
        + _text("u1")
        + _text("w+")
        + b"K\x00K\x01\x85tR."
    )
    path = tmp_path / "evil.pkl"
    path.write_bytes(_joblet_file_with_pickle(stream) if container else stream)
    with pytest.raises((TypeError, ValueError)):  # numpy.ndarray refuses them
        load(path, allowed_globals=())
    assert victim.read_bytes() == b"precious data"
    # pickled memmaps still load, as plain arrays
    mapped = np.memmap(tmp_path / "m.dat", dtype="u1", mode="w+", shape=(3,))
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(mapped, 4))
    assert load(tmp_path / "m.pkl", allowed_globals=()).tolist() == [0, 0, 0]


def _joblet_file_with_pickle(stream: bytes) -> bytes:
    import zlib

    from joblet_persist._format import FORMAT_VERSION, HEADER, Header, encode_table

    table = encode_table([], "test")
    header = Header(
        FORMAT_VERSION, "", -1, zlib.crc32(stream, zlib.crc32(table)), len(table),
        len(stream), 0, 0,
    )  # fmt: skip
    assert HEADER.size == len(header.pack())
    return header.pack() + table + stream


@pytest.mark.parametrize("container", [False, True])
@pytest.mark.parametrize(
    "opcodes",
    [
        # BUILD with a slot state: Fraction.__str__ = bytes
        b"N}" + _text("__str__") + _global("builtins", "bytes") + b"s\x86b",
        # SETITEMS / APPENDS on the class itself
        b"(" + _text("__str__") + _global("builtins", "bytes") + b"u",
        b"(" + _global("builtins", "bytes") + b"e",
    ],
    ids=["build", "setitems", "appends"],
)
def test_restricted_load_never_modifies_an_allowed_global(tmp_path, container, opcodes):
    import fractions

    before = dict(vars(fractions.Fraction))
    stream = b"\x80\x04" + _global("fractions", "Fraction") + opcodes + b"."
    path = tmp_path / "evil.pkl"
    path.write_bytes(_joblet_file_with_pickle(stream) if container else stream)
    with pytest.raises(joblet_persist.UnsafeGlobalError, match="Fraction"):
        load(path, allowed_globals=())
    assert dict(vars(fractions.Fraction)) == before
    assert str(fractions.Fraction(1, 2)) == "1/2"


def test_module_wildcard_does_not_reach_other_modules(tmp_path):
    # shutil does `import os`: ("shutil", "os.getcwd") resolves to os.getcwd
    stream = b"\x80\x04" + _global("shutil", "os.getcwd") + b")R."
    (tmp_path / "evil.pkl").write_bytes(stream)
    with pytest.raises(UnsafeGlobalError, match=r"shutil\.os\.getcwd"):
        load(tmp_path / "evil.pkl", allowed_globals=["shutil.*"])
    # what the wildcard module defines itself still loads, nested names too
    dump([Outer.Inner(2)], tmp_path / "ok.pkl")
    loaded = load(tmp_path / "ok.pkl", allowed_globals=[f"{Outer.__module__}.*"])
    assert loaded == [Outer.Inner(2)]
