"""Recurring type unions and Literal modes of joblet-persist's public API."""

from __future__ import annotations

import os
from typing import IO, Literal, TypeAlias

#: The ``mmap_mode`` values ``load`` accepts (those of ``numpy.memmap``, and None).
MmapMode: TypeAlias = Literal["r", "r+", "w+", "c"]
MMAP_MODES: tuple[MmapMode | None, ...] = (None, "r", "r+", "w+", "c")

#: What ``dump``'s ``compress`` accepts: a bool, a zlib level, a compressor name
#: or a ``(name, level)`` pair.
Compress: TypeAlias = bool | int | str | tuple[str, int]

#: A path (``str``, ``bytes``, ``os.PathLike``) or a binary file object.
PathOrFile: TypeAlias = str | bytes | os.PathLike[str] | IO[bytes]
