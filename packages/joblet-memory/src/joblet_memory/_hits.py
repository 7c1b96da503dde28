"""Reading a hit of a memoized function: a valid entry's value, or why there is none.

A hit checks the validation callback (if any), loads the value, records the
access for least-recently-used eviction (at most once per second and entry) and
counts the time it saved (the entry's stored duration, read once per entry and
process). A damaged entry is warned about here, once, and reported as
:data:`DAMAGED` so that the caller recomputes without reading it again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import _verbose
from ._store import CallId, StoreBackendBase
from ._warnings import CacheWarning, warn

if TYPE_CHECKING:
    from ._memorized import MemorizedFunc

#: No valid entry (absent, or rejected by the validation callback).
MISSING = object()
#: An entry that exists but cannot be read (already warned about).
DAMAGED = object()
# A hit records its access time (for least-recently-used eviction) at most this
# often per entry and process: one utime per second, not per call.
TOUCH_SECONDS = 1.0
# Entries remembered per function and process (durations, last touches).
_MAX_REMEMBERED = 10_000


class HitReader:
    """The read side of one memoized function, with what its hits remember.

    Parameters
    ----------
    owner : MemorizedFunc
        The function whose entries are read; its ``mmap_mode``, ``verbose`` and
        ``cache_validation_callback`` apply at each read.
    """

    def __init__(self, owner: MemorizedFunc) -> None:
        self._owner = owner
        self._durations: dict[str, float] = {}
        self._touched: dict[str, float] = {}

    def load(self, store: StoreBackendBase, call_id: CallId) -> Any:
        """The valid cached value, :data:`MISSING`, or :data:`DAMAGED` (warned about).

        Never raises for a bad entry.
        """
        owner = self._owner
        start = time.time()
        metadata = None
        if owner.cache_validation_callback is not None:
            try:
                metadata = store.get_metadata(call_id)
            except (KeyError, ValueError, OSError):
                return MISSING
            if not owner.cache_validation_callback(metadata):
                if owner.verbose >= _verbose.PATH_VERBOSITY:
                    print(
                        f"[Memory] {owner._name}: cached result rejected by the validation callback"
                    )
                return MISSING
        try:
            value = store.load_item(call_id, owner.mmap_mode)
        except KeyError:
            return MISSING
        except Exception as error:
            warn(
                CacheWarning(
                    f"the cached result of {owner._name} at {store.item_location(call_id)} "
                    f"cannot be read ({type(error).__name__}: {error}); it is recomputed "
                    "and stored again"
                )
            )
            return DAMAGED
        self._touch(store, call_id)
        owner._counters.add(hits=1, time_saved=self._duration(store, call_id, metadata))
        if owner.verbose >= _verbose.LOAD_VERBOSITY:
            if owner.verbose >= _verbose.PATH_VERBOSITY:
                print(
                    f"[Memory] Loading {owner._name} from {store.item_location(call_id)}"
                )
            print(
                _verbose.format_done(owner._name, time.time() - start, " cache loaded")
            )
        return value

    def forget(self) -> None:
        """Drop what the hits remember (the function's entries were cleared)."""
        self._durations.clear()
        self._touched.clear()

    def _touch(self, store: StoreBackendBase, call_id: CallId) -> None:
        now = time.monotonic()
        if now - self._touched.get(call_id[1], -TOUCH_SECONDS) < TOUCH_SECONDS:
            return
        if len(self._touched) >= _MAX_REMEMBERED:
            self._touched.clear()
        self._touched[call_id[1]] = now
        store.touch_item(call_id)

    def _duration(
        self,
        store: StoreBackendBase,
        call_id: CallId,
        metadata: dict[str, Any] | None,
    ) -> float:
        """How long the entry took to compute (read once per entry and process)."""
        known = self._durations.get(call_id[1])
        if known is not None:
            return known
        if metadata is None:
            try:
                metadata = store.get_metadata(call_id)
            except (KeyError, ValueError, OSError):
                metadata = {}
        duration = metadata.get("duration")
        duration = float(duration) if isinstance(duration, (int, float)) else 0.0
        if len(self._durations) >= _MAX_REMEMBERED:
            self.forget()
        self._durations[call_id[1]] = duration
        return duration
