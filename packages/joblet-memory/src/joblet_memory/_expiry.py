"""``expires_after``: a ready-made ``cache_validation_callback``."""

from __future__ import annotations

import datetime
import time
from typing import Any

from ._types import ValidationCallback


def expires_after(
    days: float = 0,
    seconds: float = 0,
    microseconds: float = 0,
    milliseconds: float = 0,
    minutes: float = 0,
    hours: float = 0,
    weeks: float = 0,
) -> ValidationCallback:
    """A validation callback that keeps cached results for a limited time.

    Pass the result as ``cache_validation_callback`` to ``Memory.cache``: a
    result older than the given duration (measured from when it was computed) is
    recomputed and stored again.

    Parameters
    ----------
    days, seconds, microseconds, milliseconds, minutes, hours, weeks : float
        Added together, as for :class:`datetime.timedelta`.

    Returns
    -------
    callable
        ``callback(metadata) -> bool``, True while the entry is fresh.

    Examples
    --------
    >>> from joblet_memory import Memory, expires_after
    >>> memory = Memory(None)
    >>> @memory.cache(cache_validation_callback=expires_after(hours=1))
    ... def fetch(url):
    ...     return len(url)
    """
    # the parameters are timedelta's own, in its order
    args = (days, seconds, microseconds, milliseconds, minutes, hours, weeks)
    delta = datetime.timedelta(*args).total_seconds()

    def cache_validation_callback(metadata: dict[str, Any]) -> bool:
        computed_at = metadata.get("time")
        if not isinstance(computed_at, (int, float)):
            return False
        return time.time() - computed_at < delta

    cache_validation_callback.__qualname__ = f"expires_after({delta}s)"
    return cache_validation_callback
