"""zlib streams (RFC 1950) written and read in independent deflate blocks.

Writing: one zlib stream whose deflate data is the blocks compressed
independently (no back-references between them) and full-flushed: each but
the last ends with an empty stored block, the byte-aligned marker
``00 00 FF FF``, and carries no final bit. The stream closes with the Adler-32
of the whole, combined from the blocks' own.

Reading: zlib records no sizes, so a reader guesses the blocks' ends at the
markers and decodes the pieces between them in parallel, each on its own raw
inflater. A guess is kept only if its piece decodes completely and ends at a
deflate block boundary (it then accepts an empty final block, ``03 00``, and
nothing else); the pieces' Adler-32s, combined in order, must equal the
stream's trailer. A marker that happens to appear inside compressed data, or a
stream whose blocks refer back to earlier ones (``pigz``, ``zlib.compress``),
hands the rest over to a sequential inflater, primed with the last 32 KiB
already decoded, since that window is all the state a deflate stream carries
across a block boundary.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from .._errors import FormatError
from .._io import Source
from .gzip_bz2_lz4_blocks import deflate_block
from .streams import BlockFormat, Encoded, Handover, NotOneUnit, Unit, Written
from .zlib_file import zlib_file

ADLER_BASE = 65521
ADLER = struct.Struct(">I")
# what a full flush leaves at a block's end (an empty stored block's lengths)
SYNC_MARKER = b"\x00\x00\xff\xff"
# an empty fixed-Huffman block with the final bit: accepted only at a boundary
EMPTY_FINAL_BLOCK = b"\x03\x00"
WINDOW = 1 << 15  # deflate refers back at most 32 KiB
ZLIB_READ = 1 << 20
# joblet's blocks hold 1 MiB; a piece that decodes to more is not one of ours
ZLIB_MAX_RAW = 1 << 20
# deflate stores at most ~1.001x its input: past this many bytes without a
# marker the stream is not written in blocks (decoded sequentially)
ZLIB_MAX_STORED = 2 * ZLIB_MAX_RAW


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings joined, from theirs (zlib's algorithm)."""
    remainder = second_length % ADLER_BASE
    sum1 = first & 0xFFFF
    sum2 = (remainder * sum1) % ADLER_BASE
    sum1 += (second & 0xFFFF) + ADLER_BASE - 1
    sum2 += (first >> 16) + (second >> 16) + ADLER_BASE - remainder
    return (sum1 % ADLER_BASE) | ((sum2 % ADLER_BASE) << 16)


def zlib_header(level: int) -> bytes:
    """The two bytes of a zlib stream header: deflate, 32 KiB window, level hint."""
    hint = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    cmf = 0x78
    flg = hint << 6
    flg += 31 - (cmf * 256 + flg) % 31
    return bytes((cmf, flg))


def is_plain_zlib_header(head: bytes) -> bool:
    """Deflate with a window of at most 32 KiB, no preset dictionary, valid check."""
    if len(head) != 2:
        return False
    cmf, flg = head
    return (
        cmf & 0x0F == 8
        and cmf >> 4 <= 7
        and not flg & 0x20
        and (cmf * 256 + flg) % 31 == 0
    )


@dataclass
class ZlibPiece(Unit):
    """A guessed piece; decoding fills its Adler-32, and the trailer if final."""

    check: int = 0
    trailer: bytes | None = None


class ZlibBlocks(BlockFormat):
    """Writes and reads zlib streams; the reading state lives here, in order."""

    name = "zlib"
    block_size = ZLIB_MAX_RAW

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self._after_header = False  # the walk read a plain header
        self._unread = bytearray()
        self._check = 1  # Adler-32 of the output so far
        self._window = b""  # its last 32 KiB
        self._ended = False  # the final block and the trailer were seen

    # -- writing --------------------------------------------------------------

    def header(self, total: int) -> bytes:
        return zlib_header(self.level)

    def encode(self, block: memoryview, last: bool) -> Encoded:
        return Encoded(
            deflate_block(block, self.level, final=last),
            block.nbytes,
            zlib.adler32(block),
        )

    def trailer(self, units: list[Written]) -> bytes:
        check = 1
        for unit in units:
            check = adler32_combine(check, unit.check, unit.raw_size)
        return ADLER.pack(check)

    # -- reading --------------------------------------------------------------

    def walk(self, source: Source) -> Iterator[Unit | Handover]:
        """The pieces up to each marker, then the rest (checked by :meth:`decode`)."""
        head = source.read_upto(2)
        if not is_plain_zlib_header(head):
            yield Handover(head)  # the standard decoder reports or handles it
            return
        self._after_header = True
        pending = self._unread
        searched = 0
        while True:
            found = pending.find(SYNC_MARKER, searched)
            if found >= 0:
                end = found + len(SYNC_MARKER)
                piece = bytes(pending[:end])
                del pending[:end]
                searched = 0
                yield ZlibPiece(piece, ZLIB_MAX_RAW)
                continue
            searched = max(0, len(pending) - len(SYNC_MARKER) + 1)
            more = source.read_upto(ZLIB_READ)
            if not more:
                if pending:
                    piece = bytes(pending)
                    pending.clear()
                    yield ZlibPiece(piece, ZLIB_MAX_RAW)
                return
            pending += more
            if len(pending) > ZLIB_MAX_STORED:
                # no blocks: one long deflate run. (``pending`` stays: should
                # a piece before it be misguessed, unread() still holds it.)
                yield Handover(bytes(pending))
                return

    def decode(self, unit: Unit) -> bytes:
        assert isinstance(unit, ZlibPiece)
        engine = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            out = engine.decompress(unit.data, unit.raw_size + 1)
            if len(out) > unit.raw_size or engine.unconsumed_tail:
                raise NotOneUnit
            if engine.eof:
                unit.trailer = engine.unused_data
            elif engine.decompress(EMPTY_FINAL_BLOCK) or not engine.eof:
                raise NotOneUnit  # ends inside a block: a marker by chance
            elif engine.unused_data:
                raise NotOneUnit
        except zlib.error:
            # refers back past its start (blocks not independent) or damaged:
            # the sequential inflater decides which
            raise NotOneUnit from None
        unit.check = zlib.adler32(out)
        return out

    def decoded(self, unit: Unit, data: bytes) -> None:
        assert isinstance(unit, ZlibPiece)
        if self._ended:
            raise FormatError("bytes follow the end of the zlib stream")
        self._check = adler32_combine(self._check, unit.check, len(data))
        joined = data if len(data) >= WINDOW else self._window + data
        self._window = joined[-WINDOW:]
        if unit.trailer is not None:
            self._ended = True
            check_trailer(unit.trailer, self._check)

    def finish(self) -> None:
        if self._after_header and not self._ended:
            raise EOFError("the zlib stream ends before its final block")

    def unread(self) -> bytes:
        return bytes(self._unread)

    def sequential(self, file: IO[bytes]) -> IO[bytes]:
        if not self._after_header:
            return zlib_file(file, "rb")
        return io.BufferedReader(ResumedInflate(file, self._window, self._check))


def check_trailer(trailer: bytes, check: int) -> None:
    """Compare a zlib stream's trailer with the Adler-32 of what it decoded to."""
    if len(trailer) < ADLER.size:
        raise EOFError("the zlib stream ends inside its Adler-32 trailer")
    if len(trailer) > ADLER.size:
        raise FormatError("bytes follow the end of the zlib stream")
    if ADLER.unpack(trailer)[0] != check:
        raise FormatError(
            "the zlib stream's Adler-32 does not match the data it decodes to"
        )


class ResumedInflate(io.RawIOBase):
    """The rest of a zlib stream, inflated from a deflate block boundary on.

    ``window`` is the last 32 KiB decoded before the boundary (later blocks may
    refer back to it) and ``check`` the Adler-32 of everything decoded so far;
    the trailer is checked against it when the final block ends.
    """

    def __init__(self, file: IO[bytes], window: bytes, check: int) -> None:
        super().__init__()
        self._file = file
        if window:
            self._engine: Any = zlib.decompressobj(-zlib.MAX_WBITS, zdict=window)
        else:
            self._engine = zlib.decompressobj(-zlib.MAX_WBITS)
        self._check = check
        self._pending = b""
        self._trailer_checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            if self._engine.eof:
                self._check_trailer()
                return 0
            raw = self._engine.unconsumed_tail or self._file.read(1 << 16)
            if not raw:
                raise EOFError("the zlib stream ends before its final block")
            # bounded: never more than 4 MiB at once, whatever the input declares
            self._pending = self._engine.decompress(raw, 1 << 22)
            self._check = zlib.adler32(self._pending, self._check)
        n = min(view.nbytes, len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _check_trailer(self) -> None:
        if self._trailer_checked:
            return
        trailer = self._engine.unused_data
        while len(trailer) < ADLER.size:
            more = self._file.read(ADLER.size - len(trailer))
            if not more:
                break
            trailer += more
        check_trailer(trailer[: ADLER.size], self._check)
        self._trailer_checked = True
