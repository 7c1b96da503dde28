"""Compressed dumps are standard streams: standard decoders read them, and back."""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import io
import lzma
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

import joblet_persist
from joblet_persist import FormatError, TruncatedFileError, dump, load
from joblet_persist._compression.gzip_bz2_lz4_blocks import Bz2Blocks
from joblet_persist._compression.streams import DecodedStream
from joblet_persist._compression.zlib_blocks import adler32_combine
from joblet_persist._format import HEADER, Header

np = pytest.importorskip("numpy")
REQUIRE = os.environ.get("JOBLET_TEST_REQUIRE_OPTIONAL") == "1"


def _zstd():
    if importlib.util.find_spec("backports") is not None:
        try:
            from backports import zstd

            return zstd
        except ImportError:
            pass
    try:
        from compression import zstd  # Python 3.14

        return zstd
    except ImportError:
        if REQUIRE:
            raise
        pytest.skip("zstd needs Python 3.14 or backports.zstd")


def _lz4_frame():
    if REQUIRE:
        import lz4.frame
    else:
        lz4 = pytest.importorskip("lz4.frame")
        return lz4
    return lz4.frame


# codec -> (extension, standard-library decoder, command-line tool)
CODECS = {
    "gzip": (".gz", lambda: gzip.decompress, "gzip"),
    "zlib": (".z", lambda: zlib.decompress, None),
    "bz2": (".bz2", lambda: bz2.decompress, "bzip2"),
    "xz": (".xz", lambda: lzma.decompress, "xz"),
    "lzma": (".lzma", lambda: lzma.decompress, "xz"),
    "lz4": (".lz4", lambda: _lz4_frame().decompress, "lz4"),
    "zstd": (".zst", lambda: _zstd().decompress, "zstd"),
}
MAGICS = {
    "gzip": b"\x1f\x8b",
    "zlib": b"\x78",
    "bz2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
    "lzma": b"\x5d\x00",
    "lz4": b"\x04\x22\x4d\x18",
    "zstd": b"\x28\xb5\x2f\xfd",
}


def value():
    rng = np.random.default_rng(0)
    return {
        # several blocks of every codec (xz blocks are 8 MiB)
        "ints": np.arange(1_300_000, dtype=np.int64),
        "noise": rng.integers(0, 4, 300_000).astype(np.uint8),
        "fortran": np.asfortranarray(rng.random((30, 20))),
        "rows": [{"id": i, "name": f"n{i}"} for i in range(2000)],
    }


def assert_same(loaded, expected):
    assert loaded.keys() == expected.keys()
    for key, item in expected.items():
        if isinstance(item, np.ndarray):
            np.testing.assert_array_equal(loaded[key], item)
        else:
            assert loaded[key] == item


@pytest.fixture(scope="module")
def dumped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("streams")
    data = value()
    plain = folder / "plain.pkl"
    dump(data, plain)
    return folder, data, plain.read_bytes()


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_dump_is_a_standard_stream_of_the_uncompressed_file(dumped, codec):
    folder, data, plain = dumped
    extension, decoder, _ = CODECS[codec]
    decompress = decoder()
    path = folder / f"x.pkl{extension}"
    dump(data, path, compress=codec)
    stored = path.read_bytes()
    assert stored.startswith(MAGICS[codec])
    # the standard module decodes the whole file into the uncompressed dump
    assert decompress(stored) == plain
    assert_same(load(path), data)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("codec", sorted(CODECS))
def test_command_line_tool_reads_and_writes(dumped, codec, tmp_path):
    _, data, plain = dumped
    extension, _, tool = CODECS[codec]
    if tool is None or shutil.which(tool) is None:
        pytest.skip(f"no command-line tool for {codec}")
    if codec == "lz4":
        _lz4_frame()
    if codec == "zstd":
        _zstd()
    path = tmp_path / f"x.pkl{extension}"
    dump(data, path, compress=codec)
    subprocess.run([tool, "-t", "-q", str(path)], check=True)
    # decompressing with the tool gives the uncompressed file, memory-mappable
    raw = tmp_path / "x.pkl"
    flag = ["--format=lzma"] if codec == "lzma" else []
    with open(raw, "wb") as out:
        subprocess.run([tool, *flag, "-d", "-c", str(path)], stdout=out, check=True)
    assert raw.read_bytes() == plain
    mapped = load(raw, mmap_mode="r")
    assert isinstance(mapped["ints"], np.memmap)
    assert_same(mapped, data)
    # and a file compressed by the tool from an uncompressed dump loads
    by_tool = tmp_path / f"by_tool{extension}"
    with open(by_tool, "wb") as out:
        subprocess.run([tool, *flag, "-c", str(raw)], stdout=out, check=True)
    assert_same(load(by_tool), data)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("tool", "args", "extension"),
    [
        ("gzip", ["-c"], ".gz"),
        ("bzip2", ["-c"], ".bz2"),
        ("xz", ["-T1", "-c"], ".xz"),  # one block without sizes: sequential
        ("xz", ["-T2", "--block-size=200000", "-c"], ".xz"),  # blocks: parallel
        ("lz4", ["-c"], ".lz4"),  # linked blocks: sequential
        ("lz4", ["-BD", "-c"], ".lz4"),
        ("lz4", ["-BI", "-B4", "-c"], ".lz4"),  # independent 64 KiB blocks
        ("zstd", ["-q", "-c"], ".zst"),
        ("zstd", ["-q", "-T2", "-B300000", "-c"], ".zst"),
    ],
)
def test_files_compressed_by_other_tools_load(dumped, tmp_path, tool, args, extension):
    _, data, plain = dumped
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    if tool == "zstd":
        _zstd()
    raw = tmp_path / "x.pkl"
    raw.write_bytes(plain)
    path = tmp_path / f"x{extension}"
    with open(path, "wb") as out:
        subprocess.run([tool, *args, str(raw)], stdout=out, check=True)
    assert_same(load(path), data)
    with open(path, "rb") as handle:
        assert_same(load(handle), data)


def test_a_file_gzipped_by_the_gzip_module_loads(dumped):
    _, data, plain = dumped
    assert_same(load(io.BytesIO(gzip.compress(plain))), data)


@pytest.mark.parametrize("codec", ["gzip", "xz", "lz4", "zstd", "bz2", "zlib"])
def test_parallel_decode_equals_sequential_decode(dumped, codec, tmp_path):
    _, data, plain = dumped
    extension, _, _ = CODECS[codec]
    if codec == "lz4":
        _lz4_frame()
    if codec == "zstd":
        _zstd()
    path = tmp_path / f"x{extension}"
    dump(data, path, compress=codec)
    wrapper = joblet_persist._compression.registry.get_compressor(codec)
    blocks = wrapper.block_format(None)
    with open(path, "rb") as raw, DecodedStream(raw, blocks, "x") as stream:
        parallel = stream.read()
    with open(path, "rb") as raw, wrapper.decompressor_file(raw) as stream:
        sequential = stream.read()
    assert parallel == sequential == plain


def test_zlib_stream_has_the_combined_adler32(dumped, tmp_path):
    _, data, plain = dumped
    path = tmp_path / "x.z"
    dump(data, path)
    assert struct.unpack(">I", path.read_bytes()[-4:])[0] == zlib.adler32(plain)
    a, b = b"first part" * 1000, b"second" * 777
    assert adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(
        a + b
    )


def test_gzip_members_carry_their_sizes(dumped, tmp_path):
    _, data, plain = dumped
    path = tmp_path / "x.gz"
    dump(data, path)
    stored = path.read_bytes()
    position, raw_total, members = 0, 0, 0
    while position < len(stored):
        assert stored[position : position + 4] == b"\x1f\x8b\x08\x04"  # FEXTRA
        assert stored[position + 12 : position + 14] == b"JL"
        size, raw = struct.unpack_from("<II", stored, position + 16)
        position += size
        raw_total += raw
        members += 1
    assert position == len(stored)
    assert raw_total == len(plain)
    assert members > 1


def test_a_compressed_dump_in_a_stream_object_loads():
    sink = io.BytesIO()
    dump({"first": np.arange(5)}, sink, compress="gzip")
    sink.seek(0)
    np.testing.assert_array_equal(load(sink)["first"], np.arange(5))


def _corrupt(path, position, value):
    data = bytearray(path.read_bytes())
    data[position] ^= value
    path.write_bytes(bytes(data))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("field", ["member size", "raw size", "crc"])
def test_damaged_gzip_member_header_is_a_clear_error(dumped, tmp_path, field):
    _, data, _ = dumped
    path = tmp_path / "x.gz"
    dump(data, path)
    position = {"member size": 17, "raw size": 21, "crc": -8}[field]
    _corrupt(path, position if position > 0 else path.stat().st_size + position, 0x55)
    with pytest.raises(FormatError, match=r"x\.gz"):
        load(path)


@pytest.mark.timeout(60)
def test_wrong_zstd_seek_table_is_a_clear_error(dumped, tmp_path):
    _zstd()
    _, data, _ = dumped
    path = tmp_path / "x.zst"
    dump(data, path, compress="zstd")
    stored = bytearray(path.read_bytes())
    count = struct.unpack_from("<I", stored, len(stored) - 9)[0]
    table_start = len(stored) - 9 - 8 * count
    struct.pack_into("<I", stored, table_start + 4, 12345)  # a raw size
    path.write_bytes(bytes(stored))
    with pytest.raises(FormatError, match="seek table"):
        load(path)
    _zstd().decompress(bytes(stored))  # still a valid zstd stream


@pytest.mark.timeout(60)
def test_wrong_xz_index_is_a_clear_error(dumped, tmp_path):
    _, data, _ = dumped
    path = tmp_path / "x.xz"
    dump(data, path, compress="xz")
    stored = bytearray(path.read_bytes())
    backward = struct.unpack_from("<I", stored, len(stored) - 8)[0]
    index_start = len(stored) - 12 - (backward + 1) * 4
    stored[index_start + 3] ^= 0x01  # first record's unpadded size
    path.write_bytes(bytes(stored))
    with pytest.raises(FormatError, match="xz index"):
        load(path)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("codec", ["gzip", "xz", "lz4", "zstd", "bz2", "zlib"])
def test_every_truncation_of_a_compressed_dump_is_refused(tmp_path, codec):
    if codec == "lz4":
        _lz4_frame()
    if codec == "zstd":
        _zstd()
    path = tmp_path / "x"
    dump({"a": np.arange(300_000), "b": "text"}, path, compress=codec)
    stored = path.read_bytes()
    cut = tmp_path / "cut"
    for size in sorted(
        {*range(1, len(stored), max(1, len(stored) // 25)), len(stored) - 1}
    ):
        cut.write_bytes(stored[:size])
        with pytest.raises(FormatError):
            load(cut)


@pytest.mark.timeout(120)
def test_decompression_bomb_fails_fast_in_bounded_memory(tmp_path):
    from _persist_sandbox import load_in_child

    # a 0.1 file whose one bz2 chunk declares 1 MiB but holds 256 MiB of zeros
    golden = (Path(__file__).parent / "data" / "joblet_0.1_bz2.joblet").read_bytes()
    header = Header.unpack(golden[: HEADER.size], "golden")
    bomb = bz2.compress(bytes(1 << 28))
    assert len(bomb) < 1024
    stored = golden[: HEADER.size + header.table_len]
    path = tmp_path / "bomb"
    path.write_bytes(stored + struct.pack("<I", len(bomb)) + bomb)
    result = load_in_child(path)
    assert "FormatError" in result.get("types", []), result
    # a gzip member declaring 1 KiB that inflates to far more
    member = bytearray(gzip.compress(b"\x89JOBLET\n" + bytes(1 << 24)))
    body = member[10:]
    path.write_bytes(
        struct.pack(
            "<2sBBIBBH2sHII",
            b"\x1f\x8b",
            8,
            4,
            0,
            0,
            255,
            12,
            b"JL",
            8,
            24 + len(body),
            1024,
        )
        + body
    )
    result = load_in_child(path)
    assert "FormatError" in result.get("types", []), result
    assert "1024 bytes" in result["message"]


def test_dump_into_a_missing_folder_names_the_path(tmp_path):
    target = tmp_path / "missing" / "x.pkl"
    with pytest.raises(FileNotFoundError) as caught:
        dump(1, target)
    message = str(caught.value)
    assert str(target) in message
    assert "does not exist" in message
    assert ".tmp" not in message


def test_protocol_4_still_maps_arrays(tmp_path):
    array = np.arange(1000.0)
    path = tmp_path / "p4"
    dump({"a": array, "same": [array, array]}, path, protocol=4)
    assert path.read_bytes()[:8] == b"\x89JOBLET\n"
    loaded = load(path, mmap_mode="r")
    assert isinstance(loaded["a"], np.memmap)
    np.testing.assert_array_equal(loaded["a"], array)
    assert loaded["same"][0] is loaded["same"][1]
    np.testing.assert_array_equal(load(path, allowed_globals=())["a"], array)


def test_truncated_compressed_file_is_truncated_error(tmp_path):
    path = tmp_path / "x.gz"
    dump(list(range(10000)), path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(TruncatedFileError):
        load(path)


def test_zstd_by_extension_and_level(tmp_path):
    zstd = _zstd()
    for path, compress in [(tmp_path / "x.zst", 0), (tmp_path / "y", ("zstd", 9))]:
        dump({"a": np.arange(1000)}, path, compress=compress)
        assert zstd.decompress(path.read_bytes())[:8] == b"\x89JOBLET\n"
        np.testing.assert_array_equal(load(path)["a"], np.arange(1000))


def test_missing_zstd_names_the_extra(monkeypatch, tmp_path):
    from joblet_persist._compression import builtin as _codecs

    monkeypatch.setattr(_codecs, "zstd_available", lambda: False)
    with pytest.raises(ValueError, match=r"pip install 'joblet-persist\[zstd\]'"):
        dump(1, tmp_path / "x", compress="zstd")
    with pytest.raises(ValueError, match=r"joblet-persist\[zstd\]"):
        dump(1, tmp_path / "x.zst")


def test_bz2_streams_in_sequence_decode_in_parallel(dumped, decoded, tmp_path):
    _, data, plain = dumped
    path = tmp_path / "x.bz2"
    dump(data, path, compress=("bz2", 1))  # 400 kB streams: several
    assert_same(load(path), data)
    assert len(decoded) > 3  # one unit per stream, no sequential handover
    decoded.clear()
    # streams compressed by hand, of another size, also decode in parallel
    pieces = [plain[i : i + 300_000] for i in range(0, len(plain), 300_000)]
    by_hand = b"".join(bz2.compress(piece) for piece in pieces)
    with DecodedStream(io.BytesIO(by_hand), Bz2Blocks(9), "x") as stream:
        assert stream.read() == plain
    assert len(decoded) == len(pieces)


def test_bz2_single_stream_of_the_bzip2_tool_falls_back(dumped, tmp_path):
    # one stream of many blocks (as `bzip2` writes) decodes sequentially
    plain = dumped[2]
    single = bz2.compress(plain * 3)
    with DecodedStream(io.BytesIO(single), Bz2Blocks(9), "x") as stream:
        assert stream.read() == plain * 3


def test_bz2_misguessed_stream_start_falls_back_to_sequential(dumped, monkeypatch):
    # a stream start guessed inside a stream (here: any "1AY&SY" block magic,
    # which starts every block) splits a stream: the piece is not one complete
    # stream, so the reader decodes sequentially from it: same bytes
    from joblet_persist._compression import gzip_bz2_lz4_blocks as _block_formats

    plain = dumped[2]
    monkeypatch.setattr(
        _block_formats, "BZ2_STREAM_START", re.compile(rb"(?:BZh[1-9])?1AY&SY")
    )
    stream_bytes = bz2.compress(plain[:500_000], 1) + bz2.compress(plain[500_000:], 1)
    assert stream_bytes.count(b"1AY&SY") > 2  # blocks inside a stream too
    with DecodedStream(io.BytesIO(stream_bytes), Bz2Blocks(9), "x") as stream:
        assert stream.read() == plain


@pytest.mark.timeout(60)
@pytest.mark.parametrize("damage", ["fake start then garbage", "flipped byte"])
def test_damaged_bz2_piece_is_a_format_error(dumped, tmp_path, damage):
    _, data, _ = dumped
    path = tmp_path / "x.bz2"
    dump(data, path, compress=("bz2", 1))
    stored = bytearray(path.read_bytes())
    if damage == "flipped byte":
        stored[len(stored) // 2] ^= 0xFF
    else:
        stored += b"BZh91AY&SY" + bytes(range(200))
    path.write_bytes(bytes(stored))
    with pytest.raises(FormatError):
        load(path)


@pytest.mark.parametrize(
    "dict_size", [1, 4096, 4097, 6144, 6145, 1 << 20, 3 << 20, (1 << 23) + 1, 2**32 - 1]
)
def test_the_lzma2_property_byte_is_liblzma_s(dict_size):
    # computed by joblet rather than through lzma's private encoder: the same byte
    from joblet_persist._compression.xz_blocks import lzma2_properties

    reference = lzma._encode_filter_properties(
        {"id": lzma.FILTER_LZMA2, "dict_size": dict_size}
    )
    assert lzma2_properties(dict_size) == reference


@pytest.mark.parametrize("as_array", [False, True], ids=["bytearray", "numpy"])
def test_a_grown_buffer_holds_the_data_and_fails_where_it_ends(monkeypatch, as_array):
    # a buffer of an input of unknown size grows piece by piece (a numpy one
    # by resize): the data lands in order, and a stream declaring more than
    # it holds fails at its end
    from joblet_persist import _io

    monkeypatch.setattr(_io, "FIRST_PIECE", 1 << 10)
    monkeypatch.setattr(_io, "GROW_MIN", 1 << 13)
    data = np.random.default_rng(0).bytes(100_000)
    numpy = np if as_array else None

    def reader(stream):
        return lambda view: _io.read_exact_into(stream, view, "the stream")

    grown = _io.fill_growing(len(data), reader(io.BytesIO(data)), numpy=numpy)
    assert bytes(grown) == data
    assert isinstance(grown, np.ndarray if as_array else bytearray)
    with pytest.raises(TruncatedFileError):
        _io.fill_growing(len(data) * 10, reader(io.BytesIO(data)), numpy=numpy)
