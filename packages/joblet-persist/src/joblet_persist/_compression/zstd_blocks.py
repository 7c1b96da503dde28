"""zstd streams in independent frames, with the seekable format's seek table.

One zstd frame per block, each with its content size, then a skippable frame
holding the seek table of zstd's seekable format (``contrib/seekable_format``):
``<II>`` compressed and decompressed size per frame, then the frame count, a
descriptor byte and the magic ``0x8F92EAB1``. ``zstd -d`` skips it; a reader
finds the frames by walking their block headers and checks them against it.

zstd comes from ``compression.zstd`` (Python 3.14) or the ``backports.zstd``
package before it (the ``joblet-persist[zstd]`` extra).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from typing import IO, Any, cast

from .._errors import FormatError
from .._io import Source
from .streams import BlockFormat, Encoded, Handover, Unit, Written

ZSTD_MISSING = (
    "the zstd compressor needs Python 3.14 or the backports.zstd package, which is "
    "not installed; install it with `pip install 'joblet-persist[zstd]'`"
)
ZSTD_MAGIC = 0xFD2FB528
SKIPPABLE_MASK = 0xFFFFFFF0
SKIPPABLE = 0x184D2A50
SEEK_TABLE_MAGIC = 0x184D2A5E
SEEKABLE_MAGIC = 0x8F92EAB1
SEEK_FOOTER = struct.Struct("<IBI")
SEEK_ENTRY = struct.Struct("<II")
MAX_BLOCK = 1 << 17  # zstd's largest block, and largest regenerated block


def zstd_module() -> Any:
    """``compression.zstd`` or ``backports.zstd``; ImportError naming the extra."""
    try:
        if sys.version_info >= (3, 14):
            from compression import zstd  # type: ignore[import-not-found]
        else:
            from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError:
        raise ImportError(ZSTD_MISSING) from None
    return zstd


def zstd_available() -> bool:
    try:
        zstd_module()
    except ImportError:
        return False
    return True


class ZstdBlocks(BlockFormat):
    name = "zstd"
    block_size = 1 << 22

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self._zstd = zstd_module()

    def encode(self, block: memoryview, last: bool) -> Encoded:
        return Encoded(self._zstd.compress(block, self.level), block.nbytes)

    def trailer(self, units: list[Written]) -> bytes:
        entries = b"".join(SEEK_ENTRY.pack(u.stored, u.raw_size) for u in units)
        body = entries + SEEK_FOOTER.pack(len(units), 0, SEEKABLE_MAGIC)
        return struct.pack("<II", SEEK_TABLE_MAGIC, len(body)) + body

    def walk(self, source: Source) -> Iterator[Unit | Handover]:
        seen: list[tuple[int, int]] = []
        while True:
            head = source.read_upto(4)
            if not head:
                return
            (magic,) = struct.unpack("<I", head.ljust(4, b"\0"))
            if len(head) == 4 and magic & SKIPPABLE_MASK == SKIPPABLE:
                (size,) = struct.unpack("<I", source.read_exact(4, "a zstd frame"))
                body = source.read_exact(size, "a zstd skippable frame")
                if magic == SEEK_TABLE_MAGIC:
                    _check_seek_table(body, seen, source.where)
                    seen = []
                continue
            if magic != ZSTD_MAGIC:
                yield Handover(head)
                return
            unit = _read_frame(source, head)
            if isinstance(unit, Handover):
                yield unit
                return
            seen.append((len(unit.data), unit.raw_size))
            yield unit

    def decode(self, unit: Unit) -> bytes:
        engine = self._zstd.ZstdDecompressor()
        out = engine.decompress(unit.data, max(unit.raw_size, 1))
        if len(out) != unit.raw_size or not engine.eof or engine.unused_data:
            raise FormatError(
                f"a zstd frame does not decompress to the {unit.raw_size} bytes it "
                "declares"
            )
        return bytes(out)

    def sequential(self, file: IO[bytes]) -> IO[bytes]:
        return cast("IO[bytes]", self._zstd.ZstdFile(file, "rb"))


def _read_frame(source: Source, head: bytes) -> Unit | Handover:
    """One zstd frame, found by its header and block headers (not decoded)."""
    where = source.where
    descriptor_byte = source.read_exact(1, "a zstd frame header")
    descriptor = descriptor_byte[0]
    size_flag, single_segment = descriptor >> 6, (descriptor >> 5) & 1
    if descriptor & 0x08:
        raise FormatError(f"{where} is corrupted: reserved bit set in a zstd frame")
    size_bytes = (1 if single_segment else 0, 2, 4, 8)[size_flag]
    if not size_bytes:  # the frame does not declare its size
        return Handover(head + descriptor_byte)
    rest = (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + size_bytes
    fields = source.read_exact(rest, "a zstd frame header")
    raw_size = int.from_bytes(fields[-size_bytes:], "little")
    raw_size += 256 if size_bytes == 2 else 0
    parts = [head, descriptor_byte, fields]
    blocks = 0
    while True:
        block_header = source.read_exact(3, "a zstd block")
        value = int.from_bytes(block_header, "little")
        kind, size = (value >> 1) & 3, value >> 3
        if kind == 3 or size > MAX_BLOCK:
            raise FormatError(f"{where} is corrupted: invalid zstd block header")
        parts += [block_header, source.read_exact(1 if kind == 1 else size, "a block")]
        blocks += 1
        if value & 1:
            break
    if descriptor & 0x04:
        parts.append(source.read_exact(4, "a zstd frame checksum"))
    if raw_size > blocks * MAX_BLOCK:
        raise FormatError(
            f"{where} is corrupted: a zstd frame declares {raw_size} bytes, more "
            f"than its {blocks} blocks can hold"
        )
    return Unit(b"".join(parts), raw_size)


def _check_seek_table(body: bytes, seen: list[tuple[int, int]], where: str) -> None:
    if len(body) < SEEK_FOOTER.size:
        raise FormatError(f"{where} is corrupted: its zstd seek table is cut short")
    count, descriptor, magic = SEEK_FOOTER.unpack_from(
        body, len(body) - SEEK_FOOTER.size
    )
    entry_size = SEEK_ENTRY.size + (4 if descriptor & 0x80 else 0)
    if magic != SEEKABLE_MAGIC or len(body) != SEEK_FOOTER.size + count * entry_size:
        raise FormatError(f"{where} is corrupted: its zstd seek table is malformed")
    entries = [
        SEEK_ENTRY.unpack_from(body, index * entry_size) for index in range(count)
    ]
    if entries != seen:
        raise FormatError(
            f"{where} is corrupted: its zstd seek table does not match its frames "
            f"({count} entries for {len(seen)} frames, or different sizes)"
        )
