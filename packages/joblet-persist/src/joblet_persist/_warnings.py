"""Warnings of joblet-persist, issued at the user's line (``joblet_hash.callers``).

A hard-coded ``stacklevel`` is right for one call path only; the first frame
outside this package is right for all of them (``load`` of a path or a file
object, a compressed or a version-1 file, a call through ``joblet`` or
joblet-memory).
"""

from __future__ import annotations

import os

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue ``message`` at the first caller frame outside joblet-persist."""
    # imported on the first warning only, like every module a load may not need
    from joblet_hash.callers import warn_at_caller

    warn_at_caller(message, category, _PACKAGE)


def warn_not_mapped(mmap_mode: str, where: str, compressed_as: str | None) -> None:
    """Say that ``where`` is loaded in memory despite ``mmap_mode``, and why.

    ``compressed_as`` names the codec of a compressed file; None means a file
    object (mapping needs a path). The message says how to have it mapped.
    """
    if compressed_as is None:
        why = "it is a file object, and memory mapping needs a path"
        fix = "Pass the file's path to memory-map it."
    else:
        why = f"it is compressed ({compressed_as})"
        fix = "Dump it without compress to memory-map it."
    warn_user(
        f"mmap_mode={mmap_mode!r} has no effect on {where}: {why}, so its arrays "
        f"are loaded in memory. {fix}"
    )
