"""The bytes of an array in the layout it is written to a file in.

A contiguous array is written as it is (C or Fortran order); any other view
is written row block by row block in C order, so that no full-size copy is
ever made. :func:`file_strides` describes the written layout, for mapping it
back; the memmapping of arguments and the fingerprints of the dump store both
read arrays this way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["array_chunks", "file_strides"]

# Non-contiguous arrays are written in pieces of this size: no full-size copy.
_CHUNK_BYTES = 64 * 1024**2


def array_chunks(array: Any) -> Iterator[Any]:
    """The bytes of ``array`` in the layout :func:`file_strides` describes."""
    import numpy

    if array.flags.c_contiguous or array.flags.f_contiguous:
        yield array.ravel(order="K").view(numpy.uint8)
        return
    if array.ndim == 0:
        yield numpy.ascontiguousarray(array).reshape(-1).view(numpy.uint8)
        return
    rows = max(1, _CHUNK_BYTES // max(1, array[0].nbytes))
    for start in range(0, array.shape[0], rows):
        piece = numpy.ascontiguousarray(array[start : start + rows])
        yield piece.reshape(-1).view(numpy.uint8)


def file_strides(array: Any) -> tuple[int, ...]:
    if array.flags.c_contiguous or array.flags.f_contiguous:
        return tuple(array.strides)
    strides = []
    step = array.itemsize
    for size in reversed(array.shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))
