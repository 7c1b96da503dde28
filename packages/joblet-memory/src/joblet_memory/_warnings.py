"""Warning categories raised by the cache, and where warnings point.

Every warning of joblet-memory goes through :func:`warn`, which points it at
the user's line that called into the package, never at a frame inside it,
the user's own function or ``sys:1``.
"""

from __future__ import annotations

import inspect
import os
import warnings


class JobletCollisionWarning(UserWarning):
    """Two different functions share one cache identity (module and name).

    Results never mix (the function's code is part of every key), but the two
    functions evict each other's code record, so one of them recomputes when the
    interpreter restarts. Rename one of them to silence this.
    """


class CacheWarning(UserWarning):
    """The cache could not be read or written; the call still returns its result.

    Raised for a corrupted or truncated entry (it is recomputed and rewritten), a
    read-only or full cache location (the result is returned uncached), and a
    lock that timed out (the caller computes without waiting any longer).
    """


_PACKAGE_FOLDER = os.path.dirname(os.path.abspath(__file__))


def find_stack_level() -> int:
    """The ``stacklevel`` that points at the first frame outside joblet-memory.

    So a warning shows the user's line that called the cached function (or
    ``Memory``), however deep inside the package it was raised (pandas' rule).
    """
    frame = inspect.currentframe()
    level = 0
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_FOLDER + os.sep):
            break
        frame = frame.f_back
        level += 1
    return level


def warn(message: Warning | str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning at the user's line (see :func:`find_stack_level`)."""
    warnings.warn(message, category, stacklevel=find_stack_level())
