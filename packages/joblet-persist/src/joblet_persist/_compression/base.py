"""``CompressorWrapper``: the base class of compressors, as joblib defines it."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from .streams import BlockFormat


class CompressorWrapper:
    """Base class of compressors, compatible with joblib's ``CompressorWrapper``.

    Instantiate it with a file-object class (``CompressorWrapper(obj=gzip.GzipFile,
    prefix=b'\\x1f\\x8b', extension='.gz')``), or subclass it and override
    :meth:`compressor_file` and :meth:`decompressor_file`; then pass the instance
    to :func:`register_compressor`. As in joblib, ``dump`` writes the whole file
    through ``compressor_file`` (so the file starts with the stream's own magic
    and its file class decodes it), and ``load`` recognises it by ``prefix``.

    Parameters
    ----------
    obj : callable, optional
        File-object factory called as ``obj(fileobj, "wb", compresslevel=level)``
        to compress and ``obj(fileobj, "rb")`` to decompress. Subclasses that
        override :meth:`compressor_file` and :meth:`decompressor_file` omit it.
    prefix : bytes, optional
        Magic bytes that start every stream this compressor writes; ``load``
        recognises the compressed files by them (the longest match wins).
    extension : str, optional
        File-name extension (``".gz"``) that selects this compressor in ``dump``.

    Attributes
    ----------
    default_level : int or None
        Level used when ``dump`` is given the name without a level (None: the
        file class's own default).
    """

    default_level: int | None = None

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

    def block_format(self, level: int | None) -> BlockFormat | None:
        """The parallel block writer/reader of a built-in codec; None for others."""
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
            return self._open(fileobj, "wb")
        return self._open(fileobj, "wb", compresslevel=compresslevel)

    def _open(self, fileobj: IO[bytes], mode: str, **kwargs: Any) -> IO[bytes]:
        """``obj(fileobj, mode)``, or ``obj(fileobj=fileobj, mode=mode)`` for a
        class whose first parameter is a file name (``gzip.GzipFile``, as joblib's
        documentation registers it)."""
        factory = self.fileobj_factory
        assert factory is not None
        if _takes_a_file_name(factory):
            opened = factory(fileobj=fileobj, mode=mode, **kwargs)
        else:
            opened = factory(fileobj, mode, **kwargs)
        return cast("IO[bytes]", opened)  # joblib's contract: a binary file object

    def decompressor_file(self, fileobj: IO[bytes]) -> IO[bytes]:
        """A readable file object decompressing from ``fileobj``."""
        if self.fileobj_factory is None:
            raise NotImplementedError(
                f"{type(self).__name__} must define decompressor_file"
            )
        return self._open(fileobj, "rb")

    def compress_chunk(self, data: memoryview, level: int | None) -> bytes:
        """One self-contained compressed stream of ``data`` (joblet 0.1 chunks)."""
        sink = io.BytesIO()
        with self.compressor_file(sink, compresslevel=level) as stream:
            stream.write(data)
        return sink.getvalue()

    def decompress_chunk(self, data: bytes, raw_size: int) -> bytes:
        """Decompress one chunk of a joblet 0.1 file, at most ``raw_size`` bytes."""
        with self.decompressor_file(io.BytesIO(data)) as stream:
            out = stream.read(raw_size + 1)
        if len(out) > raw_size:
            raise ValueError(
                f"a chunk holds more than the {raw_size} bytes it declares"
            )
        return out


def _takes_a_file_name(factory: Callable[..., Any]) -> bool:
    """True when ``factory``'s first parameter is a file name, with a ``fileobj`` one."""
    import inspect

    try:
        parameters = list(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return False
    return bool(parameters) and parameters[0] == "filename" and "fileobj" in parameters
