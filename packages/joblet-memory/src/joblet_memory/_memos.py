"""What this process already knows of cached functions (memos, not registries).

* :data:`code_records`: each function's code record, computed once per
  function object while its code and names stay the same (re-wrapping
  ``memory.cache(f)`` in a loop costs nothing; replacing ``f.__code__``, as
  ``%autoreload`` does, computes it again);
* :data:`checked`: which ``(store, function, code)`` this process already
  compared with the stored record (the comparison runs once per process);
* :data:`live_functions`: the live functions sharing one function id, for
  name-collision warnings.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from ._code import CodeRecord


class CodeRecords:
    """Code records by function object (weakly) and record options."""

    def __init__(self) -> None:
        self._records: weakref.WeakKeyDictionary[Any, dict[Any, CodeRecord]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(
        self, func: Any, options: Any, compute: Callable[[], CodeRecord]
    ) -> CodeRecord:
        """The memoized record of ``func`` for ``options``, computed if new."""
        try:
            with self._lock:
                record = self._records.get(func, {}).get(options)
        except TypeError:  # not weak-referenceable or unhashable options
            return compute()
        if record is None or not record.is_current():
            record = compute()
            try:
                with self._lock:
                    self._records.setdefault(func, {})[options] = record
            except TypeError:
                pass
        return record


class CheckedFunctions:
    """The ``(store location, func_id, digest)`` triples already compared."""

    def __init__(self) -> None:
        self._checked: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def is_checked(self, location: str, func_id: str, digest: str) -> bool:
        return (location, func_id, digest) in self._checked

    def mark(self, location: str, func_id: str, digest: str) -> None:
        with self._lock:
            self._checked.add((location, func_id, digest))

    def forget(self, location: str, func_id: str | None = None) -> None:
        """Forget a store's checks (one function's, or all of them after a clear)."""
        with self._lock:
            self._checked = {
                key
                for key in self._checked
                if key[0] != location or (func_id is not None and key[1] != func_id)
            }


def _strong(value: Any) -> Callable[[], Any]:
    return lambda: value


class LiveFunctions:
    """func_id -> {digest: (weak reference to the function, its record)}."""

    def __init__(self) -> None:
        self._live: dict[str, dict[str, tuple[Callable[[], Any], CodeRecord]]] = {}
        self._lock = threading.Lock()

    def register(self, func_id: str, func: Any, record: CodeRecord) -> list[CodeRecord]:
        """Add ``func``; return the records of other live functions with this id."""
        with self._lock:
            live = self._live.setdefault(func_id, {})
            others = []
            for digest, (ref, other) in list(live.items()):
                if ref() is None or ref() is func:  # gone, or this one edited
                    del live[digest]
                elif digest != record.digest:
                    others.append(other)
            try:
                live[record.digest] = (weakref.ref(func), record)
            except TypeError:
                live[record.digest] = (_strong(func), record)
            return others


code_records = CodeRecords()
checked = CheckedFunctions()
live_functions = LiveFunctions()
