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
