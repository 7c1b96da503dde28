"""numpy arrays as out-of-band buffers: the reduction at dump, the rebuild at load.

``rebuild_array`` is named inside every file that holds an array: this module and
that function are part of the file format and must never be renamed.

numpy is never imported here at module level: ``reduce_array`` is only reached
for objects whose class is a numpy array, and ``rebuild_array`` only when a file
holds arrays.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from ._errors import FormatError


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
        array = flat.view(dtype).reshape(shape, order=order)  # views: no copy
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
