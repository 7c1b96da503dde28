"""xz streams made of independent blocks, with the xz index (as ``xz -T0`` writes).

One xz stream: the stream header, one block per raw block (LZMA2, each block
header stating its compressed and uncompressed sizes), the index listing every
block, and the stream footer (CRC-32 checks throughout). A reader finds the
blocks from their headers, decodes each on its own (wrapped as a one-block
stream, so the standard decoder checks it), and checks the index against them.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections.abc import Iterator
from typing import IO

from .._errors import FormatError, TruncatedFileError
from .._io import Source
from .streams import BlockFormat, Encoded, Handover, Unit, Written

XZ_MAGIC = b"\xfd7zXZ\x00"
FOOTER_MAGIC = b"YZ"
CHECK_CRC32 = 1
CHECK_SIZES = (0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64)
SIZES_PRESENT = 0x40 | 0x80


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 56:
            raise FormatError("a damaged xz variable-length integer")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return value, position
        shift += 7


def pad4(length: int) -> bytes:
    return b"\0" * (-length % 4)


def stream_header(check: int) -> bytes:
    flags = bytes((0, check))
    return XZ_MAGIC + flags + struct.pack("<I", zlib.crc32(flags))


def index_and_footer(records: list[tuple[int, int]], check: int) -> bytes:
    body = b"\0" + varint(len(records))
    body += b"".join(varint(unpadded) + varint(raw) for unpadded, raw in records)
    body += pad4(len(body))
    index = body + struct.pack("<I", zlib.crc32(body))
    tail = struct.pack("<I", len(index) // 4 - 1) + bytes((0, check))
    return index + struct.pack("<I", zlib.crc32(tail)) + tail + FOOTER_MAGIC


def lzma2_properties(dict_size: int) -> bytes:
    """The LZMA2 filter's one property byte: its dictionary size, rounded up.

    The xz format encodes a size as ``(2 | (b & 1)) << (b // 2 + 11)`` for the
    byte ``b`` (0 to 39; 40 is 4 GiB - 1), as liblzma's ``lzma_lzma2_props_encode``
    rounds it; computed here rather than through ``lzma``'s private
    ``_encode_filter_properties``.
    """
    for byte in range(40):
        if (2 | (byte & 1)) << (byte // 2 + 11) >= dict_size:
            return bytes((byte,))
    return bytes((40,))


class XzBlocks(BlockFormat):
    name = "xz"
    block_size = 1 << 23

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self._filter = {
            "id": lzma.FILTER_LZMA2,
            "preset": level,
            # a block never refers further back than itself: a smaller
            # dictionary compresses the same with less memory
            "dict_size": self.block_size,
        }
        self._properties = lzma2_properties(self.block_size)

    def header(self, total: int) -> bytes:
        return stream_header(CHECK_CRC32)

    def encode(self, block: memoryview, last: bool) -> Encoded:
        body = lzma.compress(block, format=lzma.FORMAT_RAW, filters=[self._filter])
        fields = bytes((0, SIZES_PRESENT)) + varint(len(body)) + varint(block.nbytes)
        fields += b"\x21\x01" + self._properties  # LZMA2, one property byte
        size = len(fields) + 4
        size += -size % 4
        fields = bytes((size // 4 - 1,)) + fields[1:]
        fields += b"\0" * (size - 4 - len(fields))
        header = fields + struct.pack("<I", zlib.crc32(fields))
        check = struct.pack("<I", zlib.crc32(block))
        data = b"".join((header, body, pad4(len(body)), check))
        # the index records the unpadded size: header + compressed data + check
        return Encoded(data, block.nbytes, len(header) + len(body) + len(check))

    def trailer(self, units: list[Written]) -> bytes:
        return index_and_footer([(u.check, u.raw_size) for u in units], CHECK_CRC32)

    def walk(self, source: Source) -> Iterator[Unit | Handover]:
        while True:
            head = source.read_upto(12)
            if not head:
                return
            if len(head) < 12 or head[:6] != XZ_MAGIC:
                yield Handover(head)
                return
            check = head[7] & 0x0F
            records: list[tuple[int, int]] = []
            for item in _blocks(source, head, check, records):
                yield item
                if isinstance(item, Handover):
                    return
            _check_index(source, records, check)

    def decode(self, unit: Unit) -> bytes:
        engine = lzma.LZMADecompressor(lzma.FORMAT_XZ)
        out = engine.decompress(unit.data, max(unit.raw_size, 1))
        if len(out) != unit.raw_size or not engine.eof or engine.unused_data:
            raise FormatError(
                f"an xz block does not decompress to the {unit.raw_size} bytes "
                "it declares"
            )
        return out

    def sequential(self, file: IO[bytes]) -> IO[bytes]:
        return lzma.LZMAFile(file, "rb")


def _blocks(
    source: Source, head: bytes, check: int, records: list[tuple[int, int]]
) -> Iterator[Unit | Handover]:
    """The blocks of one xz stream, each wrapped as a one-block stream."""
    where = source.where
    check_size = CHECK_SIZES[check]
    while True:
        size_byte = source.read_exact(1, "an xz block header")
        if size_byte == b"\0":  # the index follows
            return
        header = size_byte + source.read_exact(
            size_byte[0] * 4 + 3, "an xz block header"
        )
        if struct.unpack_from("<I", header, len(header) - 4)[0] != zlib.crc32(
            header[:-4]
        ):
            raise FormatError(f"{where} is corrupted: an xz block header is damaged")
        flags = header[1]
        if flags & SIZES_PRESENT != SIZES_PRESENT:
            if records:
                raise FormatError(
                    f"{where} mixes xz blocks with and without sizes in one stream; "
                    "decompress it with `xz -d` and load the result"
                )
            yield Handover(head + header)  # one big block (xz -T1): sequential
            return
        stored, position = read_varint(header, 2)
        raw_size, _ = read_varint(header, position)
        body = source.read_exact(stored + (-stored % 4) + check_size, "an xz block")
        unpadded = len(header) + stored + check_size
        records.append((unpadded, raw_size))
        yield Unit(
            stream_header(check)
            + header
            + body
            + index_and_footer([(unpadded, raw_size)], check),
            raw_size,
        )


def _check_index(source: Source, records: list[tuple[int, int]], check: int) -> None:
    """Read the index (its indicator byte already read) and the footer; compare.

    Both are fully determined by the blocks and the check type (varints are
    minimal), so they are compared byte for byte with what the blocks imply.
    """
    expected = index_and_footer(records, check)[1:]
    found = source.read_upto(len(expected))
    if len(found) < len(expected):
        raise TruncatedFileError(
            f"{source.where} is truncated: it ends inside its xz index. Dump the "
            "data again."
        )
    if found != expected:
        raise FormatError(
            f"{source.where} is corrupted: its xz index or footer does not match "
            f"its {len(records)} blocks. Dump the data again."
        )
