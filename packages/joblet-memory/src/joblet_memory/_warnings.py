"""Warning categories raised by the cache, and where warnings point.

Every warning of joblet-memory goes through :func:`warn`, which points it at
the user's line that called into the package, never at a frame inside it,
the user's own function or ``sys:1``.
"""

from __future__ import annotations

from joblet_hash.callers import package_folder, warn_at_caller


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


_PACKAGE_FOLDER = package_folder(__file__)


def warn(message: Warning | str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning at the user's line that called into joblet-memory."""
    warn_at_caller(message, category, _PACKAGE_FOLDER)
