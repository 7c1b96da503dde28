"""Size, count and age limits, and which entries go first (least recently used).

An entry's last access is the modification time of its ``metadata.json``,
bumped with one ``os.utime`` on every cache hit: recording an access never
rewrites or walks anything. Enforcing limits lists the entries (one ``stat`` of
two files each) and removes, in this order:

1. entries not accessed for longer than ``age_limit``;
2. then the least recently used ones until at most ``items_limit`` remain and
   their total size is at most ``bytes_limit``.

Temporary files left by killed writers count in the size; those older than a
few minutes are removed first (see :mod:`joblet_memory._stores._leftovers`).
"""

from __future__ import annotations

import datetime
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from joblet_persist import parse_size

from ._stores._leftovers import find_leftovers, remove_stale
from ._types import AgeLimit, BytesLimit

_AGE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_bytes(limit: BytesLimit) -> int | None:
    """``1000``, ``'500K'``, ``'1.5G'``, ``'1GiB'`` (powers of 1024) or None -> bytes.

    joblet-persist's ``parse_size`` is the one grammar; a bool is a TypeError
    here, as it always was for ``bytes_limit``.
    """
    if isinstance(limit, bool):
        raise TypeError(
            f"bytes_limit must be an int or a string like '1G', got {limit!r}"
        )
    return parse_size(limit, "bytes_limit")


def parse_items(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"items_limit must be an int >= 0, got {limit!r}")
    return limit


def parse_age(limit: AgeLimit) -> float | None:
    """A timedelta, seconds, or ``'30m'``/``'12h'``/``'7d'``/``'2w'`` -> seconds."""
    if limit is None:
        return None
    if isinstance(limit, datetime.timedelta):
        seconds = limit.total_seconds()
    elif isinstance(limit, (int, float)) and not isinstance(limit, bool):
        seconds = float(limit)
    elif isinstance(limit, str) and (match := _AGE.match(limit)):
        seconds = float(match.group(1)) * _AGE_UNITS[match.group(2).lower()]
    else:
        raise ValueError(
            "age_limit must be a datetime.timedelta, seconds, or a string like "
            f"'30m', '12h', '7d', got {limit!r}"
        )
    if seconds < 0:
        raise ValueError(f"age_limit must not be negative, got {limit!r}")
    return seconds


@dataclass(frozen=True)
class CacheItemInfo:
    """One stored entry, as listed by a store backend."""

    func_id: str
    args_id: str
    path: str
    size: int
    last_access: float


def select_evictions(
    items: Iterable[CacheItemInfo],
    now: float,
    bytes_limit: int | None = None,
    items_limit: int | None = None,
    age_limit: float | None = None,
) -> list[CacheItemInfo]:
    """The entries to remove so that what is left fits the limits, oldest first."""
    ordered = sorted(items, key=lambda item: item.last_access)
    evict: list[CacheItemInfo] = []
    keep: list[CacheItemInfo] = []
    for item in ordered:
        if age_limit is not None and now - item.last_access > age_limit:
            evict.append(item)
        else:
            keep.append(item)
    total = sum(item.size for item in keep)
    count = len(keep)
    for item in keep:
        over_bytes = bytes_limit is not None and total > bytes_limit
        over_items = items_limit is not None and count > items_limit
        if not (over_bytes or over_items):
            break
        evict.append(item)
        total -= item.size
        count -= 1
    return evict


class LimitsPolicy:
    """The limits of one ``Memory``, enforced automatically after each write.

    The cache's total size and entry count are listed once (at the first write
    of the process, and again every ``RESCAN_SECONDS`` to see other processes'
    writes); between listings each write adds its own size to the running
    total. Entries are removed as soon as that total passes a limit, so no call
    walks the cache tree, yet the limits hold to within what other processes
    wrote in the last ``RESCAN_SECONDS``.
    """

    RESCAN_SECONDS = 10.0

    def __init__(
        self,
        bytes_limit: BytesLimit = None,
        items_limit: int | None = None,
        age_limit: AgeLimit = None,
    ) -> None:
        self.bytes_limit = parse_bytes(bytes_limit)
        self.items_limit = parse_items(items_limit)
        self.age_limit = parse_age(age_limit)
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._total_bytes = 0
        self._total_items = 0
        self._scanned_at: float | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {
            "bytes_limit": self.bytes_limit,
            "items_limit": self.items_limit,
            "age_limit": self.age_limit,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    @property
    def active(self) -> bool:
        return not (
            self.bytes_limit is None
            and self.items_limit is None
            and self.age_limit is None
        )

    def after_write(self, store: Any, size: int) -> list[CacheItemInfo]:
        """Account for one write of ``size`` bytes; evict if a limit is passed."""
        if not self.active:
            return []
        with self._lock:
            now = time.time()
            if self._scanned_at is None or now - self._scanned_at > self.RESCAN_SECONDS:
                return self._enforce_limits_locked(
                    store, now, self.bytes_limit, self.items_limit, self.age_limit
                )
            self._total_bytes += size
            self._total_items += 1
            over_bytes = (
                self.bytes_limit is not None and self._total_bytes > self.bytes_limit
            )
            over_items = (
                self.items_limit is not None and self._total_items > self.items_limit
            )
            if over_bytes or over_items:
                return self._enforce_limits_locked(
                    store, now, self.bytes_limit, self.items_limit, self.age_limit
                )
            return []

    def enforce_limits(
        self,
        store: Any,
        bytes_limit: int | None,
        items_limit: int | None,
        age_limit: float | None,
    ) -> list[CacheItemInfo]:
        """Remove entries until these limits hold (``Memory.reduce_size``)."""
        with self._lock:
            return self._enforce_limits_locked(
                store, time.time(), bytes_limit, items_limit, age_limit
            )

    def _enforce_limits_locked(
        self,
        store: Any,
        now: float,
        bytes_limit: int | None,
        items_limit: int | None,
        age_limit: float | None,
    ) -> list[CacheItemInfo]:
        # Temporaries of killed writers: the stale ones go, the others take room.
        leftovers = find_leftovers(store)
        removed = remove_stale(leftovers, now)
        leftover_bytes = sum(x.size for x in leftovers) - sum(x.size for x in removed)
        if bytes_limit is not None:
            bytes_limit = max(0, bytes_limit - leftover_bytes)
        items = store.get_items()
        evicted = store.enforce_limits(
            now, bytes_limit, items_limit, age_limit, items=items
        )
        self._total_bytes = (
            sum(item.size for item in items)
            - sum(i.size for i in evicted)
            + leftover_bytes
        )
        self._total_items = len(items) - len(evicted)
        self._scanned_at = now
        return list(evicted)
