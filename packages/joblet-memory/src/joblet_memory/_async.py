"""Caching ``async def`` functions: awaiting the cached function gives the result.

As in joblib 1.6: a hit returns the stored value without running the body; a
miss awaits the coroutine and stores its result. Callers missing the same
entry at once each compute it (waiting on another's lock would block the event
loop).
"""

from __future__ import annotations

import time
from typing import Any

from ._hits import DAMAGED, MISSING
from ._memorized import MemorizedFunc
from ._results import MemorizedResult, NotMemorizedResult


class AsyncMemorizedFunc(MemorizedFunc):
    """A cached coroutine function; what ``Memory.cache`` returns for ``async def``."""

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        store = self.store_backend
        if store is None:
            return await self.func(*args, **kwargs)
        located = self._locate(store, args, kwargs)
        if located is None:
            return await self.func(*args, **kwargs)
        bound, call_id = located
        value = self._read_hit(store, call_id)
        if value is MISSING or value is DAMAGED:
            self._announce(args, kwargs)
            start = time.time()
            result = await self.func(*args, **kwargs)
            value = self._store_result(store, call_id, bound, result, start)[0]
        return value

    async def call(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> tuple[Any, dict[str, Any] | None]:
        """Await the function whatever the cache holds, store and return the result."""
        store = self.store_backend
        if store is None:
            return await self.func(*args, **kwargs), None
        located = self._locate(store, args, kwargs)
        if located is None:
            return await self.func(*args, **kwargs), None
        bound, call_id = located
        self._announce(args, kwargs)
        start = time.time()
        result = await self.func(*args, **kwargs)
        return self._store_result(store, call_id, bound, result, start)

    async def call_and_shelve(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> MemorizedResult | NotMemorizedResult:
        """Await (or find) the result and return a reference to it."""
        store = self.store_backend
        if store is None:
            return NotMemorizedResult(await self.func(*args, **kwargs))
        located = self._locate(store, args, kwargs)
        if located is None:
            return NotMemorizedResult(await self.func(*args, **kwargs))
        bound, call_id = located
        if not self._is_cached(store, call_id):
            self._announce(args, kwargs)
            start = time.time()
            result = await self.func(*args, **kwargs)
            self._store_result(store, call_id, bound, result, start)
        return self._shelved(store, call_id)
