"""What a damaged input may raise: :class:`FormatError` and its subclasses only.

Readers raise FormatError with a precise message where they can; whatever else
a damaged, truncated or foreign input makes pickle, numpy or a codec raise
(``EOFError``, ``zlib.error``, ``lz4.block.LZ4BlockError``, ``AttributeError``
from a BUILD on the wrong object, ``MemoryError`` from an absurd size ...) is
turned into a FormatError here, at the boundary of ``load`` and ``inspect``,
with the original exception as ``__cause__``.
"""

from __future__ import annotations

import contextlib
import lzma
import pickle
import struct
import zlib
from collections.abc import Iterator

from ._errors import FormatError, TruncatedFileError

#: Exceptions that, raised while reading, mean the bytes are damaged or foreign.
DAMAGE_ERRORS: tuple[type[BaseException], ...] = (
    pickle.UnpicklingError,
    EOFError,
    AttributeError,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    LookupError,
    struct.error,
    OverflowError,
    MemoryError,
    RecursionError,
    UnicodeError,
    SyntaxError,  # numpy parses some dtype strings with ast
    zlib.error,
    lzma.LZMAError,
)
# Codecs imported lazily (lz4, zstd) raise their own classes; matched by module.
_CODEC_MODULES = ("lz4", "zstd", "backports.zstd", "compression.zstd", "_zstd")
# lz4's C extension names its module "_block" / "_frame": match the class too
_CODEC_CLASS_PREFIXES = ("LZ4", "Lz4", "Zstd")


def is_damage(exc: BaseException) -> bool:
    """True when ``exc``, raised while reading, means the input is damaged."""
    if isinstance(exc, FormatError):
        return False
    if isinstance(exc, DAMAGE_ERRORS):
        return True
    if isinstance(exc, OSError):
        # codecs raise OSError without an errno (gzip.BadGzipFile, bz2's
        # "Invalid data stream"); a real I/O error of the disk has one
        return exc.errno is None
    return isinstance(exc, Exception) and any(
        (cls.__module__ or "").startswith(_CODEC_MODULES)
        or cls.__name__.startswith(_CODEC_CLASS_PREFIXES)
        for cls in type(exc).__mro__
    )


def as_format_error(exc: BaseException, where: str) -> FormatError:
    """The FormatError that reports ``exc``, raised while reading ``where``."""
    if isinstance(exc, EOFError):
        return TruncatedFileError(
            f"{where} is truncated: it ends early ({exc}). Dump the data again."
        )
    if isinstance(exc, MemoryError):
        reason = "it announces sizes that cannot be allocated"
    elif isinstance(exc, RecursionError):
        reason = "it nests objects deeper than Python can rebuild"
    else:
        reason = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
    return FormatError(
        f"{where} is damaged or is not a joblet, joblib or pickle file ({reason}). "
        "If it was written by dump, dump the data again."
    )


@contextlib.contextmanager
def damage_is_format_error(where: str) -> Iterator[None]:
    """Turn every damage exception raised inside the block into a FormatError."""
    try:
        yield
    except Exception as exc:
        if not is_damage(exc):
            raise
        raise as_format_error(exc, where) from exc


# Errors the codecs raise on damaged data; codec_error() turns them into ours.
CODEC_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
)


def codec_error(exc: BaseException, where: str, codec: str) -> FormatError:
    """The one place where a codec's own exception becomes a FormatError."""
    if isinstance(exc, FormatError):
        if where in str(exc):
            return exc
        return type(exc)(f"{where} is corrupted: {exc}. Dump the data again.")
    if isinstance(exc, EOFError) or "end of stream" in str(exc).lower():
        return TruncatedFileError(
            f"{where} is truncated: its {codec} stream ends early ({exc}). "
            "Dump the data again."
        )
    return FormatError(
        f"{where} is a damaged {codec} stream: it does not decompress "
        f"({type(exc).__name__}: {exc}). Dump the data again."
    )
