"""Bad input: each case raises an exception naming the problem, never hangs."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joblet_persist import (
    FormatError,
    TruncatedFileError,
    UnsupportedVersionError,
    dump,
    load,
)

VALUE = {"rows": [{"i": i} for i in range(50)], "blob": b"x" * 300}


def _dumped(compress=0) -> bytes:
    sink = io.BytesIO()
    dump(VALUE, sink, compress=compress)
    return sink.getvalue()


PLAIN = _dumped()
COMPRESSED = _dumped("zlib")


def test_empty_file(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        load(tmp_path / "empty")


def test_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="directory"):
        load(tmp_path)
    with pytest.raises(IsADirectoryError, match="directory"):
        dump(1, tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope")


def test_foreign_file(tmp_path):
    (tmp_path / "text").write_bytes(b"hello world, not a pickle")
    with pytest.raises(
        FormatError, match="not a joblet-persist, joblib or pickle file"
    ):
        load(tmp_path / "text")


def test_newer_format_version(tmp_path):
    data = bytearray(PLAIN)
    struct.pack_into("<H", data, 8, 99)
    (tmp_path / "new").write_bytes(bytes(data))
    with pytest.raises(UnsupportedVersionError, match=r"version 99.*pip install -U"):
        load(tmp_path / "new")


@pytest.mark.parametrize("data", [PLAIN, COMPRESSED], ids=["plain", "compressed"])
def test_every_truncation_is_refused(tmp_path, data):
    path = tmp_path / "cut"
    for size in [*list(range(0, len(data), max(1, len(data) // 60))), len(data) - 1]:
        path.write_bytes(data[:size])
        with pytest.raises(FormatError):
            load(path)


def test_truncation_names_the_problem(tmp_path):
    (tmp_path / "cut").write_bytes(PLAIN[: len(PLAIN) - 10])
    with pytest.raises(TruncatedFileError, match="truncated"):
        load(tmp_path / "cut")


def test_corruption_is_caught_by_checksum(tmp_path):
    data = bytearray(PLAIN)
    data[-5] ^= 0xFF  # inside the pickle stream
    (tmp_path / "bad").write_bytes(bytes(data))
    with pytest.raises(FormatError, match="checksum"):
        load(tmp_path / "bad")


@pytest.mark.parametrize("level", [-1, 10, 2.5, "3"])
def test_bad_level(tmp_path, level):
    with pytest.raises(ValueError, match="compression level"):
        dump(1, tmp_path / "x", compress=("zlib", level))


@pytest.mark.parametrize("compress", ["snappy", ("zstdx", 3)])
def test_unknown_compressor(tmp_path, compress):
    with pytest.raises(ValueError, match=r"unknown compressor.*register_compressor"):
        dump(1, tmp_path / "x", compress=compress)


def test_bad_compress_tuple(tmp_path):
    with pytest.raises(ValueError, match=r"\(name, level\)"):
        dump(1, tmp_path / "x", compress=("zlib", 3, 4))


def test_invalid_mmap_mode(tmp_path):
    dump(1, tmp_path / "x")
    with pytest.raises(ValueError, match="invalid mmap_mode 'rw'"):
        load(tmp_path / "x", mmap_mode="rw")


def test_mmap_mode_with_file_object_warns_and_loads_in_memory(tmp_path):
    # as joblib: a file object cannot be mapped, the value is loaded in memory
    dump([1, 2], tmp_path / "x")
    with (
        open(tmp_path / "x", "rb") as handle,
        pytest.warns(UserWarning, match="needs a path"),
    ):
        assert load(handle, mmap_mode="r") == [1, 2]


def test_wrong_argument_types(tmp_path):
    with pytest.raises(ValueError, match=r"dump\(value, filename\)"):
        dump(str(tmp_path / "x"), 3)
    with pytest.raises(ValueError, match="filename must be"):
        load(3.5)


def test_bad_protocol(tmp_path):
    with pytest.raises(ValueError, match="protocol"):
        dump(1, tmp_path / "x", protocol=99)


def test_unknown_codec_in_file(tmp_path):
    # only format version 1 (joblet-persist 0.1) names its codec in the header
    golden = Path(__file__).parent / "data" / "joblet_0.1_zlib.joblet"
    data = bytearray(golden.read_bytes())
    data[12:28] = b"nosuchcodec".ljust(16, b"\x00")
    (tmp_path / "codec").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="unknown compressor 'nosuchcodec'"):
        load(tmp_path / "codec")


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data):
    try:
        load(io.BytesIO(data))
    except (FormatError, ValueError, ImportError, AttributeError, TypeError, EOFError):
        pass


@FUZZ
@given(st.sampled_from([PLAIN, COMPRESSED]), st.data())
def test_fuzz_truncated_and_flipped(data, draw):
    cut = draw.draw(st.integers(0, len(data) - 1))
    with pytest.raises(FormatError):
        load(io.BytesIO(data[:cut]))
    flipped = bytearray(data)
    position = draw.draw(st.integers(0, len(data) - 1))
    flipped[position] ^= draw.draw(st.integers(1, 255))
    try:
        result = load(io.BytesIO(bytes(flipped)))
    except (FormatError, ValueError):
        return
    # a flip in padding or in raw buffer bytes may load; the structure survives
    assert result.keys() == VALUE.keys()
