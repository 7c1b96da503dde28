"""Reading a hit of a memoized function: a valid entry's value, or why there is none.

A hit checks the validation callback (if any), loads the value, records the
access for least-recently-used eviction (at most once per second and entry) and
counts the time it saved (the entry's stored duration, read once per entry and
process). A damaged entry is warned about here, once, and reported as
:data:`DAMAGED` so that the caller recomputes without reading it again.
"""

from __future__ import annotations

import time
from typing import Any

from . import _verbose
from ._counters import Counters
from ._stores._base import CallId, StoreBackendBase
from ._types import ValidationCallback
from ._warnings import CacheWarning, warn

#: No valid entry (absent, or rejected by the validation callback).
MISSING = object()
#: An entry that exists but cannot be read (already warned about).
DAMAGED = object()
# A hit records its access time (for least-recently-used eviction) at most this
# often per entry and process: one utime per second, not per call.
TOUCH_SECONDS = 1.0
# Entries remembered per function and process (durations, last touches).
_MAX_REMEMBERED = 10_000


def validate(
    store: StoreBackendBase, call_id: CallId, callback: ValidationCallback | None
) -> tuple[bool, dict[str, Any] | None]:
    """Whether ``callback`` accepts the entry, and the metadata it was given.

    The one home of the ``cache_validation_callback`` rule: no callback
    accepts everything (and reads nothing); unreadable metadata is rejected.
    """
    if callback is None:
        return True, None
    try:
        metadata = store.get_metadata(call_id)
    except (KeyError, ValueError, OSError):
        return False, None
    return bool(callback(metadata)), metadata


class HitReader:
    """The read side of one memoized function, with what its hits remember.

    Parameters
    ----------
    name : str
        The function's display name, for messages.
    counters : Counters
        Where hits and the time they saved are counted.
    """

    def __init__(self, name: str, counters: Counters) -> None:
        self._name = name
        self._counters = counters
        self._durations: dict[str, float] = {}
        self._touched: dict[str, float] = {}

    def load(
        self,
        store: StoreBackendBase,
        call_id: CallId,
        mmap_mode: str | None,
        verbose: int,
        callback: ValidationCallback | None,
    ) -> Any:
        """The valid cached value, :data:`MISSING`, or :data:`DAMAGED` (warned about).

        Never raises for a bad entry.
        """
        start = time.time()
        valid, metadata = validate(store, call_id, callback)
        if not valid:
            if callback is not None and verbose >= _verbose.PATH_VERBOSITY:
                print(
                    f"[Memory] {self._name}: cached result rejected by the "
                    "validation callback"
                )
            return MISSING
        try:
            value = store.load_item(call_id, mmap_mode)
        except KeyError:
            return MISSING
        except Exception as error:
            warn(
                CacheWarning(
                    f"the cached result of {self._name} at "
                    f"{store.item_location(call_id)} cannot be read "
                    f"({type(error).__name__}: {error}); it is recomputed and "
                    "stored again"
                )
            )
            return DAMAGED
        self._touch(store, call_id)
        self._counters.add(hits=1, time_saved=self._duration(store, call_id, metadata))
        if verbose >= _verbose.LOAD_VERBOSITY:
            if verbose >= _verbose.PATH_VERBOSITY:
                print(
                    f"[Memory] Loading {self._name} from {store.item_location(call_id)}"
                )
            print(
                _verbose.format_done(self._name, time.time() - start, " cache loaded")
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
