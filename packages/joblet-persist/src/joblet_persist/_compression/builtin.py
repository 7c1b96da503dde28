"""The built-in compressors: zlib, gzip, bz2, lzma, xz, lz4 and zstd.

Each is a :class:`CompressorWrapper` (its file objects read and write whole
streams, as in joblib) whose :meth:`block_format` gives the parallel writer and
reader of ``streams``; ``lzma`` (the legacy ``.lzma`` format, which has no
blocks) stays a single-threaded whole stream.
"""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import lzma
from typing import IO, Any, cast

from .base import CompressorWrapper
from .gzip_bz2_lz4_blocks import LZ4_MISSING, Bz2Blocks, GzipBlocks, Lz4Blocks
from .streams import BlockFormat
from .xz_blocks import XzBlocks
from .zlib_blocks import ZlibBlocks
from .zlib_file import zlib_file
from .zstd_blocks import ZSTD_MISSING, ZstdBlocks, zstd_available, zstd_module


class ZlibCompressorWrapper(CompressorWrapper):
    """zlib (``.z``), level 3 by default."""

    default_level = 3
    blocks: type[BlockFormat] = ZlibBlocks

    def __init__(self) -> None:
        super().__init__(zlib_file, prefix=b"\x78", extension=".z")

    def block_format(self, level: int | None) -> BlockFormat | None:
        return self.blocks(self.default_level if level is None else level)


class GzipCompressorWrapper(ZlibCompressorWrapper):
    """gzip (``.gz``), level 3 by default."""

    blocks = GzipBlocks

    def __init__(self) -> None:
        CompressorWrapper.__init__(
            self, gzip.GzipFile, prefix=b"\x1f\x8b", extension=".gz"
        )

    def decompressor_file(self, fileobj: IO[bytes]) -> IO[bytes]:
        return gzip.GzipFile(fileobj=fileobj, mode="rb")  # type: ignore[return-value]

    def compressor_file(
        self, fileobj: IO[bytes], compresslevel: int | None = None
    ) -> IO[bytes]:
        level = self.default_level if compresslevel is None else compresslevel
        return gzip.GzipFile(fileobj=fileobj, mode="wb", compresslevel=level)  # type: ignore[return-value]


class BZ2CompressorWrapper(ZlibCompressorWrapper):
    """bz2 (``.bz2``), level 9 by default as in the bz2 module."""

    default_level = 9
    blocks = Bz2Blocks

    def __init__(self) -> None:
        CompressorWrapper.__init__(self, bz2.BZ2File, prefix=b"BZ", extension=".bz2")


class LZMACompressorWrapper(CompressorWrapper):
    """lzma 'alone' format (``.lzma``), preset 6 by default; one thread."""

    default_level = 6
    _format = lzma.FORMAT_ALONE

    def __init__(self) -> None:
        super().__init__(None, prefix=b"\x5d\x00", extension=".lzma")

    def compressor_file(
        self, fileobj: IO[bytes], compresslevel: int | None = None
    ) -> IO[bytes]:
        preset = self.default_level if compresslevel is None else compresslevel
        return lzma.LZMAFile(fileobj, "wb", format=self._format, preset=preset)

    def decompressor_file(self, fileobj: IO[bytes]) -> IO[bytes]:
        return lzma.LZMAFile(fileobj, "rb")


class XZCompressorWrapper(LZMACompressorWrapper):
    """xz (``.xz``), preset 6 by default; blocks on several threads."""

    _format = lzma.FORMAT_XZ

    def __init__(self) -> None:
        CompressorWrapper.__init__(
            self, None, prefix=b"\xfd\x37\x7a\x58\x5a", extension=".xz"
        )

    def block_format(self, level: int | None) -> BlockFormat | None:
        return XzBlocks(self.default_level if level is None else level)


class _LibraryFileWrapper(CompressorWrapper):
    """A codec whose library brings its own file class (lz4 and zstd)."""

    default_level: int
    level_keyword: str  # how that file class names the level

    def file_class(self) -> Any:
        """The library's file class, imported on first use."""
        raise NotImplementedError

    def compressor_file(
        self, fileobj: IO[bytes], compresslevel: int | None = None
    ) -> IO[bytes]:
        level = self.default_level if compresslevel is None else compresslevel
        opened = self.file_class()(fileobj, "wb", **{self.level_keyword: level})
        return cast("IO[bytes]", opened)

    def decompressor_file(self, fileobj: IO[bytes]) -> IO[bytes]:
        return cast("IO[bytes]", self.file_class()(fileobj, "rb"))


class LZ4CompressorWrapper(_LibraryFileWrapper):
    """lz4 (``.lz4``, needs the ``lz4`` extra): levels 0-2 fast, 3-9 high compression."""

    default_level = 0
    level_keyword = "compression_level"

    def __init__(self) -> None:
        super().__init__(None, prefix=b"\x04\x22\x4d\x18", extension=".lz4")

    def available(self) -> str | None:
        return None if importlib.util.find_spec("lz4") is not None else LZ4_MISSING

    def block_format(self, level: int | None) -> BlockFormat | None:
        return Lz4Blocks(self.default_level if level is None else level)

    def file_class(self) -> Any:
        from .gzip_bz2_lz4_blocks import lz4_module

        return lz4_module().frame.LZ4FrameFile


class ZstdCompressorWrapper(_LibraryFileWrapper):
    """zstd (``.zst``, needs Python 3.14 or the ``zstd`` extra), level 3 by default."""

    default_level = 3
    level_keyword = "level"

    def __init__(self) -> None:
        super().__init__(None, prefix=b"\x28\xb5\x2f\xfd", extension=".zst")

    def available(self) -> str | None:
        return None if zstd_available() else ZSTD_MISSING

    def block_format(self, level: int | None) -> BlockFormat | None:
        return ZstdBlocks(self.default_level if level is None else level)

    def file_class(self) -> Any:
        return zstd_module().ZstdFile


BUILTIN_COMPRESSORS: dict[str, CompressorWrapper] = {
    "zlib": ZlibCompressorWrapper(),
    "gzip": GzipCompressorWrapper(),
    "bz2": BZ2CompressorWrapper(),
    "lzma": LZMACompressorWrapper(),
    "xz": XZCompressorWrapper(),
    "lz4": LZ4CompressorWrapper(),
    "zstd": ZstdCompressorWrapper(),
}
