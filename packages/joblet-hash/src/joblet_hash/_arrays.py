"""Feeding numpy array data to a hash straight from memory.

Contiguous arrays are hashed through zero-copy views of their memory. Other
arrays (strided views, transposes of non-contiguous data) are read in C order in
bounded blocks of at most ``CHUNK_BYTES``, so hashing never copies a whole array.
Both paths cut the stream at the same item boundaries, so a strided view hashes
exactly like its contiguous copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._algorithms import CHUNK_BYTES, digest_chunks


def memory_order(array: Any) -> str:
    """``'F'`` for arrays stored Fortran-contiguous only, ``'C'`` otherwise."""
    flags = array.flags
    return "F" if flags.f_contiguous and not flags.c_contiguous else "C"


def _chunks(array: Any, order: str, items_per_chunk: int) -> Iterator[Any]:
    import numpy as np

    if array.flags.c_contiguous or array.flags.f_contiguous:
        # reshape(-1, order) of contiguous memory is a view: no copy.
        flat = array.reshape(-1, order=order).view(np.uint8)
        step = items_per_chunk * array.itemsize
        for start in range(0, flat.size, step):
            yield flat[start : start + step].data
    else:
        flat_iter = array.flat  # C order
        for start in range(0, array.size, items_per_chunk):
            block = flat_iter[start : start + items_per_chunk]  # a bounded copy
            yield block.view(np.uint8).data


def digest_array_data(hash_name: str, array: Any, order: str) -> bytes:
    """Digest of the raw bytes of ``array`` read in ``order``, without a full copy."""
    itemsize = max(array.itemsize, 1)
    items_per_chunk = max(1, CHUNK_BYTES // itemsize)
    return digest_chunks(
        hash_name, _chunks(array, order, items_per_chunk), array.nbytes
    )


def digest_buffer(hash_name: str, buffer: Any) -> bytes:
    """Digest of any object exposing the buffer protocol, read as raw bytes."""
    view = memoryview(buffer)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    raw = view.cast("B") if view.ndim != 1 or view.format != "B" else view
    step = CHUNK_BYTES
    chunks = (raw[start : start + step] for start in range(0, len(raw), step))
    return digest_chunks(hash_name, chunks, len(raw))
