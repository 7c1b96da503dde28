"""A function's record in the store (``func_code.json``): its code and its past.

Besides the current :class:`~joblet_memory._code.CodeRecord`, the file keeps
what ``explain`` needs to say why a call missed after the fact:

* ``history``: the last :data:`HISTORY` records the current one replaced, each
  with when it was replaced and the ids of the entries removed then;
* ``evicted``: ids of entries the cache limits removed, with when;
* ``counters``: hits, misses, stores, evictions and time saved, summed over
  every process (see :mod:`joblet_memory._counters`).

Reading never raises (a damaged file reads as empty) and writing is best
effort: the log explains, it never decides what is returned.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ._code import CodeRecord
from ._counters import CacheInfo

HISTORY = 5
MAX_IDS = 1000


@dataclass
class FunctionLog:
    """What ``func_code.json`` holds (see the module docstring)."""

    record: CodeRecord | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    evicted: dict[str, float] = field(default_factory=dict)
    counters: CacheInfo = field(default_factory=CacheInfo)

    @classmethod
    def read(cls, store: Any, func_id: str) -> FunctionLog:
        try:
            text = store.get_cached_func_code(func_id)
        except OSError:
            text = None
        if not text:
            return cls()
        try:
            data = json.loads(text)
            record = CodeRecord.from_dict(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls()
        history = [h for h in data.get("history") or [] if isinstance(h, dict)]
        evicted = data.get("evicted")
        return cls(
            record,
            history[:HISTORY],
            dict(evicted) if isinstance(evicted, dict) else {},
            CacheInfo.from_dict(data.get("counters")),
        )

    def to_json(self) -> str:
        data = self.record.to_dict() if self.record is not None else {}
        data["history"] = self.history
        data["evicted"] = self.evicted
        data["counters"] = self.counters.to_dict()
        return json.dumps(data, indent=1)

    def write(self, store: Any, func_id: str) -> bool:
        """Store the log; False when the store cannot be written."""
        if self.record is None:
            return False
        try:
            store.store_cached_func_code(func_id, self.to_json())
        except OSError:
            return False
        return True

    # -- changes ---------------------------------------------------------------------

    def replace_record(self, new: CodeRecord, removed: list[str]) -> None:
        """``new`` is now current; the old one goes to the history."""
        if self.record is not None and self.record.digest != new.digest:
            past = self.record.to_dict()
            past["replaced_at"] = time.time()
            past["removed"] = removed[:MAX_IDS]
            self.history = [past, *self.history][:HISTORY]
        self.record = new

    def add_evictions(self, args_ids: list[str], when: float) -> None:
        for args_id in args_ids:
            self.evicted[args_id] = when
        if len(self.evicted) > MAX_IDS:
            newest = sorted(self.evicted.items(), key=lambda item: item[1])[-MAX_IDS:]
            self.evicted = dict(newest)
        self.counters += CacheInfo(evictions=len(args_ids))

    def forget_eviction(self, args_id: str) -> None:
        self.evicted.pop(args_id, None)

    def past_records(self) -> list[tuple[CodeRecord, dict[str, Any]]]:
        """The replaced records, newest first, with their history entries."""
        out = []
        for past in self.history:
            try:
                out.append((CodeRecord.from_dict(past), past))
            except (KeyError, TypeError, ValueError):
                continue
        return out


def add_counts(store: Any, func_id: str, counts: CacheInfo) -> None:
    """Add this process's counts to the stored totals (read, add, write)."""
    log = FunctionLog.read(store, func_id)
    if log.record is None:
        return
    log.counters += counts
    log.write(store, func_id)


def record_evictions(store: Any, evicted: list[Any]) -> None:
    """Note entries removed by the limits in their functions' logs."""
    by_function: dict[str, list[str]] = {}
    for item in evicted:
        by_function.setdefault(item.func_id, []).append(item.args_id)
    now = time.time()
    for func_id, args_ids in by_function.items():
        log = FunctionLog.read(store, func_id)
        if log.record is not None:
            log.add_evictions(args_ids, now)
            log.write(store, func_id)
