"""dumps/loads, ensure_native_byte_order, joblib-style compressor classes, closed files."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys

import pytest

import joblet_persist
from joblet_persist import (
    CompressorWrapper,
    FormatError,
    SizeLimitError,
    dump,
    dumps,
    load,
    loads,
    register_compressor,
)

np = pytest.importorskip("numpy")


@pytest.mark.parametrize("compress", [0, 3, "gzip", "bz2", "xz", "zstd", "lz4"])
def test_dumps_loads_round_trip(compress):
    if compress == "lz4":
        pytest.importorskip("lz4")
    value = {"a": np.arange(10.0), "b": [1, "x", None]}
    data = dumps(value, compress=compress)
    assert isinstance(data, bytes)
    for loaded in (loads(data), loads(bytearray(data)), loads(memoryview(data))):
        np.testing.assert_array_equal(loaded["a"], value["a"])
        assert loaded["b"] == value["b"]
    # the same bytes as a file, the same checks
    sink = io.BytesIO()
    dump(value, sink, compress=compress)
    assert load(io.BytesIO(data))["b"] == value["b"]
    assert loads(data, allowed_globals=[])["b"] == value["b"]


def test_loads_has_the_safety_of_load():
    data = dumps(list(range(1000)))
    with pytest.raises(SizeLimitError, match="max_bytes=100"):
        loads(data, allowed_globals=[], max_bytes=100)
    with pytest.raises(FormatError, match="bytes given to loads"):
        loads(data[:-3])
    with pytest.raises(joblet_persist.UnsafeGlobalError):
        loads(dumps(io.StringIO), allowed_globals=[])
    with pytest.raises(TypeError, match="loads expects bytes"):
        loads("not bytes")  # type: ignore[arg-type]


def test_ensure_native_byte_order(tmp_path):
    value = {"big": np.arange(5, dtype=">i4"), "little": np.arange(3, dtype="<f8")}
    path = tmp_path / "b.joblet"
    dump(value, path)
    native = load(path)  # 'auto' without mmap_mode: as joblib 1.5+
    assert native["big"].dtype == np.dtype("=i4")
    assert native["big"].tolist() == [0, 1, 2, 3, 4]
    kept = load(path, ensure_native_byte_order=False)
    assert kept["big"].dtype == np.dtype(">i4")
    assert load(path, mmap_mode="r")["big"].dtype == np.dtype(">i4")  # 'auto'
    with pytest.raises(ValueError, match="cannot be combined with mmap_mode"):
        load(path, mmap_mode="r", ensure_native_byte_order=True)
    with pytest.raises(ValueError, match="ensure_native_byte_order"):
        load(path, ensure_native_byte_order="yes")


class _DocGzip(gzip.GzipFile):
    """A compressor class as joblib's documentation registers one: a GzipFile."""


def test_a_gzip_file_subclass_registers_and_dumps_to_a_path(tmp_path):
    register_compressor(
        "docgzip",
        CompressorWrapper(obj=_DocGzip, prefix=b"\x1f\x8b", extension=".dgz"),
        force=True,
    )
    value = {"a": np.arange(4)}
    for target in (tmp_path / "x.dgz", tmp_path / "x.bin"):
        dump(value, target, compress=("docgzip", 3))
        assert gzip.decompress(target.read_bytes())[:8] == b"\x89JOBLET\n"
        np.testing.assert_array_equal(load(target)["a"], value["a"])
    sink = io.BytesIO()
    dump(value, sink, compress="docgzip")
    np.testing.assert_array_equal(loads(sink.getvalue())["a"], value["a"])


_STR_PREFIX = r"""
import io, sys, joblet_persist as jp
class Stub(io.BufferedIOBase):
    pass
# joblib's own tests register a prefix given as a str
jp.register_compressor("stub", jp.CompressorWrapper(obj=Stub, prefix="test-prefix"))
path = sys.argv[1]
for codec in ("zlib", "gzip", "lz4", "xz"):
    jp.dump({"a": 1}, path, compress=codec)
    assert jp.load(path) == {"a": 1}, codec
"""


def test_a_compressor_registered_with_a_str_prefix_breaks_no_other_load(tmp_path):
    # Before: every compressed load failed (startswith got a str) and a
    # Memory(compress=...) recomputed everything. A child: registrations stay.
    done = subprocess.run(
        [sys.executable, "-c", _STR_PREFIX, str(tmp_path / "x.pkl")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


class _NoFile:
    """Not a file class: no read, no write."""


@pytest.mark.parametrize(
    ("obj", "prefix", "match"),
    [
        (_NoFile, b"NOPE", "should implement the file object interface"),
        (_DocGzip, 17, "prefix must be the bytes its files start with"),
        (_DocGzip, "\u20ac", "prefix must be the bytes its files start with"),
    ],
)
def test_a_compressor_that_cannot_work_is_refused_at_registration(obj, prefix, match):
    wrapper = CompressorWrapper(obj=obj, prefix=prefix)
    with pytest.raises(ValueError, match=match):
        register_compressor("refused", wrapper)


def test_an_unknown_compressor_suggests_the_closest_name():
    with pytest.raises(
        ValueError, match=r"unknown compressor 'gzipp' \(did you mean 'gzip'\?\)"
    ):
        dumps(1, compress="gzipp")


_CLOSES = r"""
import gc, io, sys, warnings
import numpy as np
import joblet_persist, joblib
value = {"a": np.arange(10), "o": np.array([1, None], dtype=object)}
folder = sys.argv[1]
for compress in (0, "zlib", "gzip", "bz2", "xz", "lzma", "lz4"):
    for name, writer in (("joblet", joblet_persist.dump), ("joblib", joblib.dump)):
        path = f"{folder}/{name}-{compress}"
        writer(value, path, compress=compress)
        for kwargs in ({}, {"allowed_globals": []}, {"mmap_mode": "r"}):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # mmap of compressed
                joblet_persist.load(path, **kwargs)
            gc.collect()
        joblet_persist.inspect_file(path)
        gc.collect()
print("DONE")
"""


def test_every_load_closes_its_files(tmp_path):
    pytest.importorskip("joblib")
    pytest.importorskip("lz4")
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", _CLOSES,
         str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "DONE" in done.stdout
    assert "ResourceWarning" not in done.stderr, done.stderr[-3000:]
