"""Hit and miss counters: ``MemorizedFunc.cache_info()`` and ``Memory.cache_info()``.

Counters count what this process did. They are also added to the function's
record in the store from time to time (every :data:`FLUSH_SECONDS` at most, and
at exit), so that ``python -m joblet_memory LOCATION list`` shows the totals of
every process that used the cache.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

FLUSH_SECONDS = 5.0


@dataclass(frozen=True)
class CacheInfo:
    """Counts of one cached function (or of a whole ``Memory``).

    Attributes
    ----------
    hits : int
        Calls answered from the cache.
    misses : int
        Calls that ran the function (``call()`` included).
    stores : int
        Results written to the cache.
    evictions : int
        Entries removed by the cache limits.
    time_saved : float
        Seconds the hits would have taken: the sum of their original durations.
    """

    hits: int = 0
    misses: int = 0
    stores: int = 0
    evictions: int = 0
    time_saved: float = 0.0

    def __add__(self, other: CacheInfo) -> CacheInfo:
        return CacheInfo(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> CacheInfo:
        if not isinstance(data, dict):
            return cls()

        def number(name: str) -> float:
            value = data.get(name, 0)
            return value if isinstance(value, (int, float)) else 0

        # each count as the type of its default (int, or float for time_saved)
        zero = cls()
        kinds = {f.name: type(getattr(zero, f.name)) for f in fields(cls)}
        return cls(*(kind(number(name)) for name, kind in kinds.items()))


class Counters:
    """Thread-safe counters; ``parent`` (a Memory's) receives every count too.

    ``flush`` is called with the counts not yet flushed, at most every
    :data:`FLUSH_SECONDS` and at interpreter exit. Counting is on the path of
    every cache hit, so it adds to plain lists, not dataclasses.
    """

    def __init__(
        self,
        parent: Counters | None = None,
        flush: Callable[[CacheInfo], None] | None = None,
    ) -> None:
        self.parent = parent
        self._flush = flush
        self._lock = threading.Lock()
        self._total = [0, 0, 0, 0, 0.0]
        self._pending = [0, 0, 0, 0, 0.0]
        self._flushed_at = time.monotonic()
        if flush is not None:
            _with_pending_counts.add(self)
            _flush_at_exit_first()

    def add(
        self,
        hits: int = 0,
        misses: int = 0,
        stores: int = 0,
        evictions: int = 0,
        time_saved: float = 0.0,
    ) -> None:
        with self._lock:
            for counts in (self._total, self._pending):
                counts[0] += hits
                counts[1] += misses
                counts[2] += stores
                counts[3] += evictions
                counts[4] += time_saved
        if self.parent is not None:
            self.parent.add(hits, misses, stores, evictions, time_saved)
        if self._flush is not None:
            if not _before_thread_pools_stop:
                _flush_before_thread_pools_stop()
            if time.monotonic() - self._flushed_at > FLUSH_SECONDS:
                self.flush()

    def info(self) -> CacheInfo:
        with self._lock:
            return _info(self._total)

    def flush(self) -> None:
        """Hand the counts not yet flushed to the flush callback."""
        with self._lock:
            pending = _info(self._pending)
            self._pending = [0, 0, 0, 0, 0.0]
            self._flushed_at = time.monotonic()
        if self._flush is not None and pending != CacheInfo():
            try:
                self._flush(pending)
            except Exception:  # counters are best effort: never fail a call or exit
                pass


def _info(counts: list[Any]) -> CacheInfo:
    return CacheInfo(
        int(counts[0]), int(counts[1]), int(counts[2]), int(counts[3]), counts[4]
    )


_with_pending_counts: weakref.WeakSet[Counters] = weakref.WeakSet()


def _flush_all() -> None:
    for counters in list(_with_pending_counts):
        counters.flush()


def _flush_at_exit_first() -> None:
    """(Re-)register :func:`_flush_all` so that it runs before later handlers.

    atexit runs handlers last-registered first, and registering again when a
    store's counters are made (after its driver was imported) puts the flush
    before the driver's own exit handlers.
    """
    atexit.unregister(_flush_all)
    atexit.register(_flush_all)


_before_thread_pools_stop = False


def _flush_before_thread_pools_stop() -> None:
    """Also flush at interpreter shutdown, before thread pools refuse work.

    ``concurrent.futures`` stops accepting work at threading's shutdown, which
    comes before atexit; s3fs resolves host names through such a pool, so a
    flush from atexit alone fails on an object store. Threading's exit hooks
    run last-registered first: registering once the pools' module is loaded
    runs the flush before it stops them. Idempotent: a second flush has
    nothing pending.
    """
    global _before_thread_pools_stop
    if _before_thread_pools_stop or "concurrent.futures.thread" not in sys.modules:
        return
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        with contextlib.suppress(RuntimeError):  # shutdown already begun
            register(_flush_all)
    _before_thread_pools_stop = True
