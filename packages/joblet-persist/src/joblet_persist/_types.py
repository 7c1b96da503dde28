"""Recurring type unions and Literal modes of joblet-persist's public API."""

from __future__ import annotations

import os
from typing import IO, Literal, Protocol, TypeAlias

#: The ``mmap_mode`` values ``load`` accepts (those of ``numpy.memmap``, and None).
MmapMode: TypeAlias = Literal["r", "r+", "w+", "c"]
MMAP_MODES: tuple[MmapMode | None, ...] = (None, "r", "r+", "w+", "c")

#: What ``dump``'s ``compress`` accepts: a bool, a zlib level, a compressor name
#: or a ``(name, level)`` pair.
Compress: TypeAlias = bool | int | str | tuple[str, int]

#: A path (``str``, ``bytes``, ``os.PathLike``) or a binary file object.
PathOrFile: TypeAlias = str | bytes | os.PathLike[str] | IO[bytes]


class ReadableStream(Protocol):
    """What joblet-persist needs of a stream it reads: ``read(n)``, at most n bytes.

    Files, ``GzipFile`` and its kin, ``BytesIO``, sockets' ``makefile('rb')``
    and joblib users' own file classes all have it. ``readinto`` is used when
    the stream has it (no copy), looked up at run time; ``seek``/``tell`` only
    where a caller checked ``seekable()``.
    """

    def read(self, size: int = -1, /) -> bytes: ...
