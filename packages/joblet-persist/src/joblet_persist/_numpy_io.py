"""numpy arrays as out-of-band buffers: the reduction at dump, the rebuild at load.

``rebuild_array`` is named inside every file that holds an array: this module and
that function are part of the file format and must never be renamed.

numpy is never imported here at module level: ``reduce_array`` is only reached
for objects whose class is a numpy array, and ``rebuild_array`` only when a file
holds arrays.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import sys
from collections.abc import Iterator
from typing import Any

from ._errors import FormatError

_NATIVE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "joblet_persist_native_byte_order", default=False
)


def native_byte_order(value: bool | str, mmap_mode: str | None) -> bool:
    """``load``'s ``ensure_native_byte_order`` resolved as joblib 1.5+ does."""
    if value == "auto":
        return mmap_mode is None
    if not isinstance(value, bool):
        raise ValueError(
            f"ensure_native_byte_order must be True, False or 'auto', got {value!r}"
        )
    if value and mmap_mode is not None:
        raise ValueError(
            "ensure_native_byte_order=True cannot be combined with "
            f"mmap_mode={mmap_mode!r}: a memory-mapped array keeps the byte order "
            "of the file. Pass ensure_native_byte_order='auto' or False."
        )
    return value


@contextlib.contextmanager
def swapping_to_native(native: bool) -> Iterator[None]:
    """Within the block, rebuilt arrays are swapped to native byte order if ``native``."""
    token = _NATIVE.set(native)
    try:
        yield
    finally:
        _NATIVE.reset(token)


def to_native(array: Any) -> Any:
    """``array`` in the byte order of this machine when the load asks for it."""
    if not _NATIVE.get() or not _foreign_order(array.dtype):
        return array
    return array.byteswap().view(array.dtype.newbyteorder("="))


def _foreign_order(dtype: Any) -> bool:
    """True when ``dtype`` (or every field of it) has the other byte order (as joblib)."""
    other = ">" if sys.byteorder == "little" else "<"
    if dtype.byteorder == other:
        return True
    fields = dtype.fields
    return bool(
        dtype.byteorder == "|"
        and fields
        and all(field[0].byteorder == other for field in fields.values())
    )


class MappedSlot:
    """Stands in for a buffer at load time with ``mmap_mode``: where its bytes lie."""

    __slots__ = ("filename", "mode", "nbytes", "offset")

    def __init__(self, filename: str, offset: int, nbytes: int, mode: str) -> None:
        self.filename = filename
        self.offset = offset
        self.nbytes = nbytes
        self.mode = mode


def is_plain_array(obj: Any) -> bool:
    """True for non-object numpy arrays that numpy itself reduces the plain way."""
    numpy = sys.modules.get("numpy")
    if numpy is None or not isinstance(obj, numpy.ndarray):
        return False
    cls = type(obj)
    if cls.__reduce_ex__ is not numpy.ndarray.__reduce_ex__:
        return False
    if cls.__reduce__ is not numpy.ndarray.__reduce__:
        return False
    return not obj.dtype.hasobject


def array_layout(array: Any) -> tuple[Any, str]:
    """A contiguous version of ``array`` (a view when possible) and its order."""
    flags = array.flags
    if flags.c_contiguous:
        return array, "C"
    if flags.f_contiguous:
        return array, "F"  # Fortran order: the transpose of a C array, no copy
    import numpy

    return numpy.ascontiguousarray(array), "C"


def rebuild_array(
    buffer: Any, dtype: Any, shape: tuple[int, ...], order: str, subclass: Any
) -> Any:
    """Rebuild an array from its out-of-band buffer (referenced by joblet files)."""
    import numpy as _numpy

    numpy: Any = _numpy

    dtype = numpy.dtype(dtype)
    _check_layout(buffer, dtype, shape, order)
    if isinstance(buffer, MappedSlot):
        array = map_array(
            buffer.filename, dtype, buffer.mode, buffer.offset, shape, order
        )
    else:
        flat = numpy.frombuffer(buffer, dtype=numpy.uint8)
        array = to_native(flat.view(dtype).reshape(shape, order=order))  # a view
    if subclass is not None and not isinstance(array, subclass):
        array = array.view(subclass)
    return array


def map_array(
    path: str, dtype: Any, mode: str, offset: int, shape: tuple[int, ...], order: str
) -> Any:
    """A ``numpy.memmap`` of ``shape`` at ``offset`` of ``path`` (joblet and joblib).

    An empty array maps nothing (``mmap`` refuses a zero length): it comes back
    as an empty memmap instance all the same.
    """
    import numpy as _numpy

    numpy: Any = _numpy
    if dtype.itemsize * math.prod(shape) == 0:
        return numpy.empty(shape, dtype=dtype, order=order).view(numpy.memmap)
    return numpy.memmap(
        path, dtype=dtype, mode=mode, offset=offset, shape=shape, order=order
    )


def _check_layout(buffer: Any, dtype: Any, shape: tuple[int, ...], order: str) -> None:
    """Refuse a rebuild whose dtype and shape do not describe exactly its buffer.

    Raw bytes never become object pointers, and an array never reaches past its
    buffer (with ``mmap_mode='r+'``, numpy.memmap would grow the file to fit).
    """
    if dtype.hasobject:
        raise FormatError(
            f"refused an array of dtype {dtype} over raw bytes: numpy would read "
            "them as object pointers (the file is damaged or malicious)"
        )
    if order not in ("C", "F"):
        raise FormatError(f"a pickled array has an invalid order {order!r}")
    held = (
        buffer.nbytes if isinstance(buffer, MappedSlot) else memoryview(buffer).nbytes
    )
    needed = math.prod(int(n) for n in shape) * dtype.itemsize
    if needed != held or any(int(n) < 0 for n in shape):
        raise FormatError(
            f"an array of shape {tuple(shape)} and dtype {dtype} needs {needed} bytes, "
            f"but its buffer holds {held} (the file is damaged or malicious)"
        )


def reduce_array(array: Any, placeholder: Any, order: str) -> tuple[Any, ...]:
    """The reduce tuple of ``array``, its bytes travelling through ``placeholder``."""
    import numpy

    subclass: Any = type(array)
    if subclass in (numpy.ndarray, numpy.memmap):
        subclass = None
    return (rebuild_array, (placeholder, array.dtype, array.shape, order, subclass))
