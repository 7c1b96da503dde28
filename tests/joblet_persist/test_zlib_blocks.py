"""zlib streams decode in parallel from guessed block ends, and fall back safely."""

from __future__ import annotations

import io
import zlib

import pytest

from joblet_persist import FormatError, TruncatedFileError, dump, load
from joblet_persist._compression import zlib_blocks as _block_zlib
from joblet_persist._compression.streams import DecodedStream, write_stream
from joblet_persist._compression.zlib_blocks import SYNC_MARKER, ZlibBlocks

np = pytest.importorskip("numpy")


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """An uncompressed dump of about 3 MiB: several 1 MiB zlib blocks."""
    path = tmp_path_factory.mktemp("zlib") / "plain.pkl"
    rng = np.random.default_rng(0)
    dump({"ints": np.arange(300_000), "noise": rng.integers(0, 9, 600_000)}, path)
    return path.read_bytes()


def decode(stored: bytes) -> bytes:
    with DecodedStream(io.BytesIO(stored), ZlibBlocks(3), "x") as stream:
        return stream.read()


def joblet_stream(plain: bytes) -> bytes:
    buffer = io.BytesIO()
    write_stream(buffer, [plain], len(plain), ZlibBlocks(3), lambda f, b: f.write(b))
    return buffer.getvalue()


def sync_flushed(plain: bytes, piece: int) -> bytes:
    """One deflate stream flushed every ``piece`` bytes: blocks refer back."""
    engine = zlib.compressobj(6)
    parts = []
    for start in range(0, len(plain), piece):
        parts.append(engine.compress(plain[start : start + piece]))
        parts.append(engine.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(parts) + engine.flush()


def test_joblet_blocks_decode_in_parallel(plain, decoded, tmp_path):
    stored = joblet_stream(plain)
    assert stored.count(SYNC_MARKER) >= 3
    assert decode(stored) == plain == zlib.decompress(stored)
    # one piece per block, none handed to the sequential decoder
    assert len(decoded) == -(-len(plain) // ZlibBlocks.block_size)
    path = tmp_path / "x.pkl.z"
    path.write_bytes(stored)
    assert load(path).keys() == {"ints", "noise"}


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(zlib.compress, id="zlib.compress (no markers)"),
        pytest.param(lambda p: sync_flushed(p, 200_000), id="blocks refer back"),
        pytest.param(lambda p: sync_flushed(p, 5_000_000), id="one long block"),
    ],
)
def test_streams_of_other_writers_decode_to_the_same_bytes(plain, make):
    assert decode(make(plain)) == plain


def test_a_marker_by_chance_inside_a_block_falls_back(plain, monkeypatch):
    # a one-byte "marker" matches inside compressed data all the time: those
    # pieces end inside a block, so the reader inflates sequentially from there
    monkeypatch.setattr(_block_zlib, "SYNC_MARKER", b"\xff")
    stored = joblet_stream(plain)
    assert stored.count(b"\xff") > 3 * stored.count(SYNC_MARKER)
    assert decode(stored) == plain


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        ("wrong trailer", FormatError, "Adler-32"),
        ("cut after a block", TruncatedFileError, "ends before its final block"),
        ("cut in the trailer", TruncatedFileError, "trailer"),
        ("bytes after the end", FormatError, "follow the end"),
        ("flipped byte", FormatError, "damaged zlib stream|Adler-32"),
    ],
)
def test_damaged_streams_are_format_errors(plain, damage, error, message):
    stored = bytearray(joblet_stream(plain))
    if damage == "wrong trailer":
        stored[-1] ^= 1
    elif damage == "cut after a block":
        del stored[stored.index(SYNC_MARKER) + len(SYNC_MARKER) :]
    elif damage == "cut in the trailer":
        del stored[-2:]
    elif damage == "bytes after the end":
        stored += b"more"
    else:
        stored[len(stored) // 2] ^= 0x55
    with pytest.raises(error, match=message):
        decode(bytes(stored))


def test_damage_after_a_fallback_is_still_found(plain):
    # the sequential inflater checks the same Adler-32
    stored = bytearray(sync_flushed(plain, 200_000))
    stored[-1] ^= 1
    with pytest.raises(FormatError, match="Adler-32"):
        decode(bytes(stored))
