"""Length-prefixed frames over pipes, with pickle protocol-5 buffers out of band.

A frame is a header (tag, main length, number of buffers, each buffer's length),
then the main pickle bytes, then the raw buffers. Buffers are written straight
from the objects' memory (``os.writev``) and read into fresh ``bytearray``s.
"""

from __future__ import annotations

import os
import struct
from typing import Any

_HEADER = struct.Struct("<qQI")
_IOV_MAX = 512


def write_frame(fd: int, tag: int, main: bytes, buffers: list[Any]) -> None:
    """Write one frame; ``buffers`` are contiguous buffer objects."""
    views = [memoryview(buffer).cast("B") for buffer in buffers]
    header = _HEADER.pack(tag, len(main), len(views))
    if views:
        header += struct.pack(f"<{len(views)}Q", *(view.nbytes for view in views))
    chunks = [memoryview(header), memoryview(main), *views]
    chunks = [chunk for chunk in chunks if chunk.nbytes]
    while chunks:
        written = os.writev(fd, chunks[:_IOV_MAX])
        while written:
            first = chunks[0]
            if written >= first.nbytes:
                written -= first.nbytes
                chunks.pop(0)
            else:
                chunks[0] = first[written:]
                written = 0


def _read_exact(fd: int, size: int) -> bytearray | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    position = 0
    while position < size:
        count = os.readv(fd, [view[position:]])
        if count == 0:
            return None
        position += count
    return buffer


def read_frame(fd: int) -> tuple[int, bytearray, list[bytearray]] | None:
    """Read one frame: (tag, main, buffers); None at end of file."""
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    tag, main_size, n_buffers = _HEADER.unpack(header)
    sizes: tuple[int, ...] = ()
    if n_buffers:
        raw = _read_exact(fd, 8 * n_buffers)
        if raw is None:
            return None
        sizes = struct.unpack(f"<{n_buffers}Q", raw)
    main = _read_exact(fd, main_size)
    if main is None:
        return None
    buffers = []
    for size in sizes:
        buffer = _read_exact(fd, size)
        if buffer is None:
            return None
        buffers.append(buffer)
    return tag, main, buffers
