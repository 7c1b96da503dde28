"""gzip, zlib, bz2 and lz4 streams in independent blocks (see ``streams``).

* gzip: one member per block (RFC 1952 allows any number), each carrying in its
  extra field, as BGZF does, a ``JL`` subfield with the member's total size and
  its raw size (``<II``), so a reader finds every member without inflating.
* zlib: in ``zlib_blocks``.
* bz2: one complete bz2 stream per block, in sequence (``bzip2 -d`` and
  ``bz2.decompress`` read concatenated streams). bz2 records no sizes: a
  reader guesses the stream starts (byte-aligned ``BZh[1-9]`` and the block
  magic) and keeps a guess only if its piece decodes to exactly one complete
  stream; otherwise it decodes sequentially from there.
* lz4: one lz4 frame per block, with its content size in the frame header.
"""

from __future__ import annotations

import bz2
import gzip
import re
import struct
import zlib
from collections.abc import Iterator
from typing import IO, Any, cast

from .._errors import FormatError
from .._io import Source
from .streams import BlockFormat, Encoded, Handover, NotOneUnit, Unit, Written

# -- gzip ---------------------------------------------------------------------

GZIP_MAGIC = b"\x1f\x8b"
# id1 id2 CM=8 FLG=FEXTRA mtime XFL OS=unknown XLEN; subfield "JL", 8 bytes:
# the member's total size and its raw size
GZIP_HEADER = struct.Struct("<2sBBIBBH2sHII")
GZIP_TRAILER = struct.Struct("<II")
GZIP_SUBFIELD = b"JL"
GZIP_OVERHEAD = GZIP_HEADER.size + GZIP_TRAILER.size
# Blocks are compressed with a 16 KiB window instead of 32 KiB: ~17% less CPU for
# files ~2% larger at level 3. Any inflater reads them (a smaller window is valid).
DEFLATE_WINDOW = 14


def deflate_block(block: memoryview, level: int, final: bool) -> bytes:
    """Raw deflate data of ``block`` alone: final, or full-flushed (byte-aligned)."""
    engine = zlib.compressobj(level, zlib.DEFLATED, -DEFLATE_WINDOW)
    return engine.compress(block) + engine.flush(
        zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH
    )


def _inflate_exact(engine: Any, data: bytes, raw_size: int, what: str) -> bytes:
    """Decompress ``data`` with ``engine``, producing exactly ``raw_size`` bytes."""
    # max_length bounds the output by the declared size (0 would mean unbounded)
    out = engine.decompress(data, max(raw_size, 1))
    if (
        len(out) == raw_size
        and not engine.eof
        and engine.decompress(engine.unconsumed_tail, 1)
    ):
        raise FormatError(f"{what} holds more than the {raw_size} bytes it declares")
    if not engine.eof or len(out) != raw_size or engine.unused_data:
        raise FormatError(
            f"{what} does not decompress to the {raw_size} bytes it declares "
            f"({len(out)} bytes, complete: {engine.eof})"
        )
    return bytes(out)


class GzipBlocks(BlockFormat):
    name = "gzip"

    def encode(self, block: memoryview, last: bool) -> Encoded:
        body = deflate_block(block, self.level, final=True)
        raw_size = block.nbytes
        total = GZIP_OVERHEAD + len(body)
        header = GZIP_HEADER.pack(
            GZIP_MAGIC, 8, 4, 0, 0, 255, 12, GZIP_SUBFIELD, 8, total, raw_size
        )
        trailer = GZIP_TRAILER.pack(zlib.crc32(block), raw_size & 0xFFFFFFFF)
        return Encoded(b"".join((header, body, trailer)), raw_size)

    def walk(self, source: Source) -> Iterator[Unit | Handover]:
        while True:
            head = source.read_upto(GZIP_HEADER.size)
            if not head:
                return
            fields = GZIP_HEADER.unpack(head) if len(head) == GZIP_HEADER.size else None
            if (
                fields is None
                or fields[:3] != (GZIP_MAGIC, 8, 4)
                or fields[6:9] != (12, GZIP_SUBFIELD, 8)
            ):
                yield Handover(head)  # not written by joblet: decode sequentially
                return
            total, raw_size = fields[9], fields[10]
            if total < GZIP_OVERHEAD:
                raise FormatError(
                    f"{source.where} is corrupted: a gzip member declares an "
                    f"impossible size ({total} bytes)"
                )
            rest = source.read_exact(total - len(head), "a gzip member")
            yield Unit(head + rest, raw_size)

    def decode(self, unit: Unit) -> bytes:
        return _inflate_exact(
            zlib.decompressobj(16 + zlib.MAX_WBITS),
            unit.data,
            unit.raw_size,
            "a gzip member",
        )

    def sequential(self, file: IO[bytes]) -> IO[bytes]:
        return gzip.GzipFile(fileobj=file, mode="rb")  # type: ignore[return-value]


# -- bz2 ----------------------------------------------------------------------


class Bz2Blocks(BlockFormat):
    name = "bz2"

    def __init__(self, level: int) -> None:
        super().__init__(max(1, level))
        # four of bz2's own blocks (100 kB per level) per stream
        self.block_size = 400_000 * self.level
        self._unread = bytearray()

    def encode(self, block: memoryview, last: bool) -> Encoded:
        return Encoded(bz2.compress(block, self.level), block.nbytes)

    def walk(self, source: Source) -> Iterator[Unit | Handover]:
        """The pieces between guessed stream starts (checked by :meth:`decode`)."""
        self._unread = bytearray(source.read_upto(BZ2_READ))
        if not BZ2_STREAM_START.match(self._unread):
            yield Handover(bytes(self._unread))  # e.g. an empty stream
            return
        searched = 1
        while True:
            found = BZ2_STREAM_START.search(self._unread, searched)
            if found is not None:
                piece = bytes(self._unread[: found.start()])
                del self._unread[: found.start()]
                searched = 1
                yield Unit(piece, BZ2_MAX_RAW)
                continue
            searched = max(1, len(self._unread) - BZ2_START_SIZE + 1)
            more = source.read_upto(BZ2_READ)
            if not more:
                if self._unread:
                    piece, self._unread = bytes(self._unread), bytearray()
                    yield Unit(piece, BZ2_MAX_RAW)
                return
            self._unread += more
            if len(self._unread) > BZ2_MAX_STORED:
                # no stream start for long: not written by joblet (bzip2 tool)
                yield Handover(bytes(self._unread))
                return

    def decode(self, unit: Unit) -> bytes:
        engine = bz2.BZ2Decompressor()
        try:
            out = engine.decompress(unit.data, unit.raw_size)
        except OSError:
            raise NotOneUnit from None  # the sequential decoder reports it
        if not engine.eof or engine.unused_data:
            raise NotOneUnit
        return out

    def unread(self) -> bytes:
        return bytes(self._unread)

    def sequential(self, file: IO[bytes]) -> IO[bytes]:
        return bz2.BZ2File(file, "rb")


# A stream header then the first block's magic (pi in BCD), byte-aligned.
BZ2_STREAM_START = re.compile(rb"BZh[1-9]1AY&SY", re.DOTALL)
BZ2_START_SIZE = 10
BZ2_READ = 1 << 20
# The largest stream joblet writes holds 3.6 MB (level 9); a guessed piece that
# would decode to more is not one of ours: decoded sequentially instead.
BZ2_MAX_RAW = 400_000 * 9
# bz2 never stores more than ~1.01x its input (+ a header): past this many bytes
# without a stream start the stream is not joblet's.
BZ2_MAX_STORED = 2 * BZ2_MAX_RAW


# -- lz4 ---------------------------------------------------------------------

LZ4_MISSING = (
    "the lz4 compressor needs the lz4 package, which is not installed; "
    "install it with `pip install 'joblet-persist[lz4]'`"
)
LZ4_MAGIC = 0x184D2204
LZ4_SKIPPABLE = 0x184D2A50  # low nibble free
LZ4_MAX_BLOCK = {4: 1 << 16, 5: 1 << 18, 6: 1 << 20, 7: 1 << 22}
LZ4_UNCOMPRESSED = 0x80000000
LZ4_END_MARK = b"\0\0\0\0"


def lz4_module() -> Any:
    try:
        import lz4.block
        import lz4.frame
    except ImportError:
        raise ImportError(LZ4_MISSING) from None
    return lz4


class Lz4Blocks(BlockFormat):
    """One lz4 frame of independent 1 MiB blocks, its content size in the header.

    A single frame (rather than one per block) because ``lz4.frame.decompress``
    reads only the first frame of a stream; ``lz4 -d`` reads either.
    """

    name = "lz4"

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self._lz4 = lz4_module()

    def header(self, total: int) -> bytes:
        frame = self._lz4.frame
        begin = frame.compress_begin(
            frame.create_compression_context(),
            source_size=total,
            block_size=frame.BLOCKSIZE_MAX1MB,
            block_linked=False,
            content_checksum=False,
        )
        return cast("bytes", begin)

    def encode(self, block: memoryview, last: bool) -> Encoded:
        compress = self._lz4.block.compress
        if self.level < 3:
            data = compress(block, mode="default", store_size=False)
        else:
            data = compress(
                block, mode="high_compression", compression=self.level, store_size=False
            )
        if len(data) >= block.nbytes:  # incompressible: stored as is
            return Encoded(
                struct.pack("<I", block.nbytes | LZ4_UNCOMPRESSED) + block.tobytes(),
                block.nbytes,
            )
        return Encoded(struct.pack("<I", len(data)) + data, block.nbytes)

    def trailer(self, units: list[Written]) -> bytes:
        return LZ4_END_MARK

    def walk(self, source: Source) -> Iterator[Unit | Handover]:
        while True:
            head = source.read_upto(4)
            if not head:
                return
            (magic,) = struct.unpack("<I", head.ljust(4, b"\0"))
            if len(head) == 4 and magic & 0xFFFFFFF0 == LZ4_SKIPPABLE:
                size = int.from_bytes(source.read_exact(4, "an lz4 frame"), "little")
                source.read_exact(size, "an lz4 skippable frame")
                continue
            if magic != LZ4_MAGIC:
                yield Handover(head)
                return
            head += source.read_exact(2, "an lz4 frame header")
            flags, descriptor = head[4], head[5]
            if flags >> 6 != 1 or not flags & 0x20:
                yield Handover(head)  # linked blocks: decode sequentially
                return
            max_block = LZ4_MAX_BLOCK.get((descriptor >> 4) & 7)
            if max_block is None:
                raise FormatError(
                    f"{source.where} is corrupted: bad lz4 frame descriptor"
                )
            # content size, dictionary id, then the header checksum
            source.read_exact(8 * bool(flags & 0x08) + 4 * (flags & 1) + 1, "lz4")
            yield from _lz4_blocks(source, flags, max_block)

    def decode(self, unit: Unit) -> bytes:
        block = self._lz4.block
        return cast(
            "bytes", block.decompress(unit.data, uncompressed_size=unit.raw_size)
        )

    def sequential(self, file: IO[bytes]) -> IO[bytes]:
        return cast("IO[bytes]", self._lz4.frame.LZ4FrameFile(file, "rb"))


def _lz4_blocks(source: Source, flags: int, max_block: int) -> Iterator[Unit]:
    """The blocks of one lz4 frame, each decodable alone (independent blocks)."""
    while True:
        (size,) = struct.unpack("<I", source.read_exact(4, "an lz4 block"))
        if size == 0:
            break
        stored = size & ~LZ4_UNCOMPRESSED
        if stored > max_block:
            raise FormatError(
                f"{source.where} is corrupted: an lz4 block of {stored} bytes in a "
                f"frame of {max_block}-byte blocks"
            )
        data = source.read_exact(stored, "an lz4 block")
        if flags & 0x10:
            source.read_exact(4, "an lz4 block checksum")
        # an lz4 block never decodes to more than the frame's block size
        yield Unit(data, max_block, raw=bool(size & LZ4_UNCOMPRESSED))
    if flags & 0x04:
        source.read_exact(4, "an lz4 frame checksum")
