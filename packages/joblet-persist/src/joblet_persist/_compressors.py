"""Compressors: the documented base class, the built-in codecs and the registry.

A compressor serves two purposes:

* whole-stream file objects (``compressor_file`` / ``decompressor_file``), as in
  joblib: used to read joblib's compressed files, whose magic ``prefix`` selects
  the compressor, and available to callers that want a compressed file object;
* chunk functions (``compress_chunk`` / ``decompress_chunk``) used by joblet's own
  container, which compresses large buffers in independent chunks on several
  threads. The base class derives them from the file-object methods, so a
  compressor written for joblib works unchanged; codecs that release the GIL set
  ``releases_gil = True`` and override them with one-shot calls.
"""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import io
import lzma
import zlib
from collections.abc import Callable
from typing import IO, Any

LZ4_MISSING = (
    "the lz4 compressor needs the lz4 package, which is not installed; "
    "install it with `pip install 'joblet-persist[lz4]'`"
)
LEVELS = range(10)


class CompressorWrapper:
    """Base class of compressors, compatible with joblib's ``CompressorWrapper``.

    Subclass it (or instantiate it with a file-object factory such as
    ``gzip.GzipFile``) and pass the instance to :func:`register_compressor`.

    Parameters
    ----------
    obj : callable, optional
        File-object factory called as ``obj(fileobj, "wb", compresslevel=level)``
        to compress and ``obj(fileobj, "rb")`` to decompress. Subclasses that
        override :meth:`compressor_file` and :meth:`decompressor_file` omit it.
    prefix : bytes, optional
        Magic bytes that start every stream this compressor writes; ``load``
        recognises whole-stream compressed files (joblib's) by them.
    extension : str, optional
        File-name extension (``".gz"``) that selects this compressor in ``dump``.

    Attributes
    ----------
    default_level : int or None
        Level used when ``dump`` is given the name without a level.
    releases_gil : bool
        True when :meth:`compress_chunk` and :meth:`decompress_chunk` release the
        GIL, so that ``dump``/``load`` run them on several threads.
    """

    default_level: int | None = None
    releases_gil: bool = False

    def __init__(
        self,
        obj: Callable[..., Any] | None = None,
        prefix: bytes = b"",
        extension: str = "",
    ) -> None:
        self.fileobj_factory = obj
        if prefix or not hasattr(self, "prefix"):
            self.prefix = prefix
        if extension or not hasattr(self, "extension"):
            self.extension = extension

    def available(self) -> str | None:
        """None when usable, else a message saying what is missing and the fix."""
        return None

    def compressor_file(
        self, fileobj: IO[bytes], compresslevel: int | None = None
    ) -> IO[bytes]:
        """A writable file object compressing into ``fileobj``."""
        if self.fileobj_factory is None:
            raise NotImplementedError(
                f"{type(self).__name__} must define compressor_file"
            )
        if compresslevel is None:
            return self.fileobj_factory(fileobj, "wb")
        return self.fileobj_factory(fileobj, "wb", compresslevel=compresslevel)

    def decompressor_file(self, fileobj: IO[bytes]) -> IO[bytes]:
        """A readable file object decompressing from ``fileobj``."""
        if self.fileobj_factory is None:
            raise NotImplementedError(
                f"{type(self).__name__} must define decompressor_file"
            )
        return self.fileobj_factory(fileobj, "rb")

    def compress_chunk(self, data: memoryview, level: int | None) -> bytes:
        """Compress one chunk into a self-contained stream."""
        sink = io.BytesIO()
        with self.compressor_file(sink, compresslevel=level) as stream:
            stream.write(data)
        return sink.getvalue()

    def decompress_chunk(self, data: bytes, raw_size: int) -> bytes:
        """Decompress one chunk written by :meth:`compress_chunk`."""
        with self.decompressor_file(io.BytesIO(data)) as stream:
            return stream.read()


class _ZlibFile(io.RawIOBase):
    """A zlib stream (``78 ..``) as a binary file, as joblib writes for ``.z``."""

    def __init__(
        self, fileobj: IO[bytes], mode: str = "rb", compresslevel: int = 3
    ) -> None:
        super().__init__()
        self._fileobj = fileobj
        self._reading = mode.startswith("r")
        if self._reading:
            self._engine: Any = zlib.decompressobj(zlib.MAX_WBITS)
            self._pending = b""
        else:
            self._engine = zlib.compressobj(
                compresslevel, zlib.DEFLATED, zlib.MAX_WBITS
            )

    def readable(self) -> bool:
        return self._reading

    def writable(self) -> bool:
        return not self._reading

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            if self._engine.eof:
                return 0
            raw = self._fileobj.read(1 << 16)
            if not raw:
                raise EOFError("compressed file ended before the end-of-stream marker")
            self._pending = self._engine.decompress(raw, 1 << 20)
            if not self._pending and self._engine.unconsumed_tail:
                self._pending = self._engine.decompress(
                    self._engine.unconsumed_tail, 1 << 20
                )
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        if not self._pending and self._engine.unconsumed_tail:
            self._pending = self._engine.decompress(
                self._engine.unconsumed_tail, 1 << 20
            )
        return n

    def write(self, data: Any) -> int:
        self._fileobj.write(self._engine.compress(data))
        return memoryview(data).nbytes

    def close(self) -> None:
        if not self.closed and not self._reading:
            self._fileobj.write(self._engine.flush())
        super().close()


def _zlib_file(
    fileobj: IO[bytes], mode: str = "rb", compresslevel: int = 3
) -> IO[bytes]:
    return (
        io.BufferedReader(_ZlibFile(fileobj, mode))
        if mode.startswith("r")
        else (io.BufferedWriter(_ZlibFile(fileobj, mode, compresslevel)))
    )


class ZlibCompressorWrapper(CompressorWrapper):
    """zlib (``.z``), level 3 by default; chunks compressed on several threads."""

    default_level = 3
    releases_gil = True
    _wbits = zlib.MAX_WBITS
    # Chunks are compressed with a 16 KiB window instead of 32 KiB: on the
    # benchmark's mix this takes ~17% less CPU for files ~2% larger at level 3.
    # Any zlib decompressor reads them (the window size is in the stream header).
    _chunk_window = 14

    def __init__(self) -> None:
        super().__init__(_zlib_file, prefix=b"\x78", extension=".z")

    def compress_chunk(self, data: memoryview, level: int | None) -> bytes:
        level = self.default_level if level is None else level
        return zlib.compress(
            data, level, self._chunk_window + (self._wbits - zlib.MAX_WBITS)
        )

    def decompress_chunk(self, data: bytes, raw_size: int) -> bytes:
        return zlib.decompress(data, self._wbits, max(raw_size, 1))


class GzipCompressorWrapper(ZlibCompressorWrapper):
    """gzip (``.gz``), level 3 by default."""

    _wbits = 16 + zlib.MAX_WBITS

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


class BZ2CompressorWrapper(CompressorWrapper):
    """bz2 (``.bz2``), level 9 by default as in the bz2 module."""

    default_level = 9
    releases_gil = True

    def __init__(self) -> None:
        super().__init__(bz2.BZ2File, prefix=b"BZ", extension=".bz2")

    def compress_chunk(self, data: memoryview, level: int | None) -> bytes:
        return bz2.compress(
            data, max(1, self.default_level if level is None else level)
        )

    def decompress_chunk(self, data: bytes, raw_size: int) -> bytes:
        return bz2.decompress(data)


class LZMACompressorWrapper(CompressorWrapper):
    """lzma 'alone' format (``.lzma``), preset 6 by default."""

    default_level = 6
    releases_gil = True
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

    def compress_chunk(self, data: memoryview, level: int | None) -> bytes:
        preset = self.default_level if level is None else level
        return lzma.compress(data, format=self._format, preset=preset)

    def decompress_chunk(self, data: bytes, raw_size: int) -> bytes:
        return lzma.decompress(data, format=self._format)


class XZCompressorWrapper(LZMACompressorWrapper):
    """xz (``.xz``), preset 6 by default."""

    _format = lzma.FORMAT_XZ

    def __init__(self) -> None:
        CompressorWrapper.__init__(
            self, None, prefix=b"\xfd\x37\x7a\x58\x5a", extension=".xz"
        )


class LZ4CompressorWrapper(CompressorWrapper):
    """lz4 (``.lz4``, needs the ``lz4`` extra): levels 0-2 fast, 3-9 high compression."""

    default_level = 0
    releases_gil = True

    def __init__(self) -> None:
        super().__init__(None, prefix=b"\x04\x22\x4d\x18", extension=".lz4")

    def available(self) -> str | None:
        return None if importlib.util.find_spec("lz4") is not None else LZ4_MISSING

    def _lz4(self) -> Any:
        if self.available() is not None:
            raise ValueError(LZ4_MISSING)
        import lz4.block
        import lz4.frame

        return lz4

    def compressor_file(
        self, fileobj: IO[bytes], compresslevel: int | None = None
    ) -> IO[bytes]:
        level = self.default_level if compresslevel is None else compresslevel
        frame = self._lz4().frame
        return frame.LZ4FrameFile(fileobj, "wb", compression_level=level)

    def decompressor_file(self, fileobj: IO[bytes]) -> IO[bytes]:
        return self._lz4().frame.LZ4FrameFile(fileobj, "rb")

    def compress_chunk(self, data: memoryview, level: int | None) -> bytes:
        block = self._lz4().block
        level = self.default_level if level is None else level
        if level < 3:
            return block.compress(data, mode="default", store_size=False)
        return block.compress(
            data, mode="high_compression", compression=level, store_size=False
        )

    def decompress_chunk(self, data: bytes, raw_size: int) -> bytes:
        return self._lz4().block.decompress(data, uncompressed_size=raw_size)


_COMPRESSORS: dict[str, CompressorWrapper] = {}


def register_compressor(
    compressor_name: str, compressor: CompressorWrapper, force: bool = False
) -> None:
    """Register a new compressor for :func:`dump` and :func:`load`.

    Parameters
    ----------
    compressor_name : str
        The name given to ``dump(compress=name)`` or ``(name, level)``; at most
        16 ASCII characters, since joblet files record it in their header.
    compressor : CompressorWrapper
        An instance of :class:`CompressorWrapper` (or of a subclass).
    force : bool, default False
        Replace an existing compressor of the same name.

    Raises
    ------
    ValueError
        When the name is not a short ASCII string, is already registered (and
        ``force`` is False), or ``compressor`` is not a ``CompressorWrapper``.
    """
    if not isinstance(compressor_name, str) or not compressor_name:
        raise ValueError(
            f"compressor_name must be a non-empty str, got {compressor_name!r}"
        )
    if not compressor_name.isascii() or len(compressor_name) > 16:
        raise ValueError(
            f"compressor_name must be at most 16 ASCII characters, got {compressor_name!r}"
        )
    if not isinstance(compressor, CompressorWrapper):
        raise ValueError(
            f"compressor must be an instance of joblet_persist.CompressorWrapper, got "
            f"{compressor!r}; subclass it or wrap a file-object factory: "
            "CompressorWrapper(obj=gzip.GzipFile, prefix=b'...', extension='.ext')"
        )
    if compressor_name in _COMPRESSORS and not force:
        raise ValueError(
            f"a compressor named {compressor_name!r} is already registered; "
            "pass force=True to replace it"
        )
    _COMPRESSORS[compressor_name] = compressor


for _name, _wrapper in [
    ("zlib", ZlibCompressorWrapper()),
    ("gzip", GzipCompressorWrapper()),
    ("bz2", BZ2CompressorWrapper()),
    ("lzma", LZMACompressorWrapper()),
    ("xz", XZCompressorWrapper()),
    ("lz4", LZ4CompressorWrapper()),
]:
    register_compressor(_name, _wrapper)


def get_compressor(name: str, where: str = "") -> CompressorWrapper:
    """The registered compressor ``name``, or a ValueError saying what exists."""
    try:
        compressor = _COMPRESSORS[name]
    except KeyError:
        context = f"{where} needs " if where else ""
        raise ValueError(
            f"{context}unknown compressor {name!r}; registered: {sorted(_COMPRESSORS)}. "
            "Use one of those or add yours with joblet_persist.register_compressor"
        ) from None
    missing = compressor.available()
    if missing is not None:
        raise ValueError(missing)
    return compressor


def compressor_for_prefix(head: bytes) -> tuple[str, CompressorWrapper] | None:
    """The compressor whose magic starts ``head`` (longest prefix first)."""
    matches = [
        (len(wrapper.prefix), name, wrapper)
        for name, wrapper in _COMPRESSORS.items()
        if wrapper.prefix and head.startswith(wrapper.prefix)
    ]
    if not matches:
        return None
    _, name, wrapper = max(matches, key=lambda match: match[0])
    return name, wrapper


def _check_level(level: Any) -> int | None:
    if level is None:
        return None
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise ValueError(
            f"invalid compression level {level!r}: expected an int from 0 to 9 "
            "(0 means no compression), e.g. compress=3 or compress=('zlib', 3)"
        )
    return level


def resolve_compress(
    compress: Any, filename: str | None
) -> tuple[str, int | None] | None:
    """Turn ``dump``'s ``compress`` argument into ``(name, level)`` or None.

    Follows joblib: True is zlib at its default level; an int is a zlib level;
    a str names the compressor at its default level; a tuple is ``(name, level)``;
    when not a tuple, a known extension of ``filename`` picks the compressor.
    """
    method = "zlib"
    explicit = False
    if compress is True:
        level: int | None = None
    elif compress is False or compress is None:
        level = 0
    elif isinstance(compress, tuple):
        if len(compress) != 2:
            raise ValueError(
                f"compress as a tuple must be (name, level), e.g. ('zlib', 3); got {compress!r}"
            )
        method, level = compress[0], _check_level(compress[1])
        explicit = True
    elif isinstance(compress, str):
        method, level, explicit = compress, None, True
    else:
        level = _check_level(compress)
    if not isinstance(method, str):
        raise ValueError(f"compressor name must be a str, got {method!r}")
    if filename is not None and not explicit:
        by_extension = [
            name
            for name, wrapper in _COMPRESSORS.items()
            if wrapper.extension and filename.endswith(wrapper.extension)
        ]
        if by_extension:
            method = by_extension[-1]
            if level == 0:
                level = None
    if level == 0:
        return None
    get_compressor(method)  # unknown name or missing package: raise now
    return method, level
