"""Reading the compressed container of joblet-persist 0.1 (format version 1).

Those files hold the header, the buffer table, then the pickle stream and each
buffer as chunks of at most ``chunk_size`` raw bytes, each chunk stored as
``<u32 stored length><compressed bytes>``, compressed by the codec named in the
header. Every chunk is decompressed bounded by its raw size.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from joblet_hash.names import unknown_name_message

from ._compression.registry import get_compressor, lookup, registered
from ._error_mapping import CODEC_ERRORS
from ._errors import FormatError
from ._io import Source, fill_growing
from ._threads import ordered_map, thread_count

CHUNK_PREFIX_SIZE = 4


def _bounded(engine: object, data: bytes, raw_size: int) -> bytes:
    out: bytes = engine.decompress(data, max(raw_size, 1))  # type: ignore[attr-defined]
    if not getattr(engine, "eof", True):
        raise ValueError("a chunk does not end where its raw size says")
    return out


def _zlib(wbits: int) -> Callable[[bytes, int], bytes]:
    def decode(data: bytes, raw_size: int) -> bytes:
        engine = zlib.decompressobj(wbits)
        out = engine.decompress(data, max(raw_size, 1))
        if not engine.eof:
            raise ValueError("a chunk does not end where its raw size says")
        return out

    return decode


def _lz4_block(data: bytes, raw_size: int) -> bytes:
    import lz4.block

    return cast("bytes", lz4.block.decompress(data, uncompressed_size=raw_size))


CHUNK_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "zlib": _zlib(zlib.MAX_WBITS),
    "gzip": _zlib(16 + zlib.MAX_WBITS),
    "bz2": lambda data, size: _bounded(bz2.BZ2Decompressor(), data, size),
    "lzma": lambda data, size: _bounded(
        lzma.LZMADecompressor(lzma.FORMAT_ALONE), data, size
    ),
    "xz": lambda data, size: _bounded(
        lzma.LZMADecompressor(lzma.FORMAT_XZ), data, size
    ),
    "lz4": _lz4_block,
}


def chunk_decoder(codec: str, where: str) -> Callable[[bytes, int], bytes]:
    """The chunk decoder of a 0.1 file's codec (a registered one for others)."""
    if codec == "lz4":
        get_compressor("lz4", where)  # the clear error when lz4 is missing
    found = CHUNK_DECODERS.get(codec)
    if found is not None:
        return found
    if lookup(codec) is None:
        raise FormatError(
            f"{where} is corrupted or needs a compressor that is not registered: "
            f"{unknown_name_message('compressor', codec, registered())}. Register it "
            "with joblet_persist.register_compressor, or dump the data again"
        )
    return get_compressor(codec, where).decompress_chunk


class ChunkReader:
    """Decompress length-prefixed chunks into a buffer, on several threads."""

    def __init__(self, source: Source, codec: str, chunk_size: int) -> None:
        self.source = source
        self.codec = codec
        self.decode = chunk_decoder(codec, source.where)
        self.chunk_size = chunk_size
        self.threads = thread_count()
        self.pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def read_growing(self, total: int, what: str) -> bytearray:
        """``total`` raw bytes, the buffer grown as chunks arrive (never up front)."""
        return fill_growing(total, lambda view: self.fill(view, what), self.chunk_size)

    def fill(self, view: memoryview, what: str) -> None:
        total = view.nbytes
        starts = range(0, total, self.chunk_size)
        if len(starts) > 1 and self.threads > 1 and self.pool is None:
            self.pool = ThreadPoolExecutor(
                self.threads, thread_name_prefix="joblet-persist"
            )
        where = self.source.where

        def stored_chunks() -> Iterator[tuple[int, bytes]]:
            for start in starts:
                length = int.from_bytes(
                    self.source.read_exact(CHUNK_PREFIX_SIZE, what), "little"
                )
                yield start, self.source.read_exact(length, what)

        def decompress(item: tuple[int, bytes]) -> None:
            start, stored = item
            size = min(self.chunk_size, total - start)
            try:
                raw = self.decode(stored, size)
            except CODEC_ERRORS as exc:
                raise FormatError(
                    f"{where} is corrupted: a compressed chunk of {what} does not "
                    f"decompress ({type(exc).__name__}: {exc})"
                ) from None
            if len(raw) != size:
                raise FormatError(
                    f"{where} is corrupted: a chunk of {what} holds {len(raw)} bytes "
                    f"instead of {size}"
                )
            view[start : start + size] = raw

        for _ in ordered_map(decompress, stored_chunks(), self.threads, self.pool):
            pass
