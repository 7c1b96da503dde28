"""Warning categories raised by the cache."""

from __future__ import annotations


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
