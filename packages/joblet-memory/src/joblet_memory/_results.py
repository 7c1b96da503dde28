"""What ``call_and_shelve`` returns: a reference to a cached result, or the value."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from . import _verbose
from ._keys import function_id
from ._location import normalize_location
from ._stores._base import StoreBackendBase
from ._stores._registry import make_store, store_to_pickle


class MemorizedResult:
    """A reference to one cached result, from ``MemorizedFunc.call_and_shelve``.

    It pickles small (location, function id, arguments hash) and its repr can
    be pasted into another interpreter to read the value back.

    Parameters
    ----------
    location : str, pathlib.Path or StoreBackendBase
        The ``Memory`` location the result lives in.
    func : str or callable
        The function, or its id (``module/parts/qualname``).
    args_id : str
        The hash naming the entry.
    backend : str, default 'local'
    mmap_mode : {None, 'r+', 'r', 'w+', 'c'}
    verbose : int, default 0
    store_backend : StoreBackendBase, optional
        The configured store (options, signing key) of the cache; made from
        ``location`` and ``backend`` when omitted.
    """

    def __init__(
        self,
        location: Any,
        func: str | Callable[..., Any],
        args_id: str,
        backend: str = "local",
        mmap_mode: str | None = None,
        verbose: int = 0,
        store_backend: StoreBackendBase | None = None,
    ) -> None:
        self.location = normalize_location(location)
        self.func = func if isinstance(func, str) else function_id(func)
        self.args_id = args_id
        self.backend = backend
        self.mmap_mode = mmap_mode
        self.verbose = verbose
        store = store_backend or make_store(self.location, backend, verbose, None)
        if store is None:
            raise ValueError("MemorizedResult needs a location, got None")
        self.store_backend = store

    def get(self) -> Any:
        """Read the cached value; ``KeyError`` if it was cleared."""
        start = time.time()
        value = self.store_backend.load_item((self.func, self.args_id), self.mmap_mode)
        if self.verbose >= _verbose.LOAD_VERBOSITY:
            name = self.func.rsplit("/", 1)[-1]
            print(_verbose.format_done(name, time.time() - start, " cache loaded"))
        return value

    def clear(self) -> None:
        """Remove the cached value from the store."""
        self.store_backend.clear_item((self.func, self.args_id))

    def __repr__(self) -> str:
        # JSON strings are valid Python literals: joblib's double-quoted look,
        # and still pasteable when the path holds a quote or a backslash
        # (in a Windows path, backslash-U would otherwise start a unicode escape).
        location = (
            json.dumps(self.location, ensure_ascii=False)
            if isinstance(self.location, str)
            else repr(self.location)
        )
        return (
            f"{type(self).__name__}(location={location}, "
            f"func={json.dumps(self.func, ensure_ascii=False)}, "
            f"args_id={json.dumps(self.args_id)})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (
                self.location,
                self.func,
                self.args_id,
                self.backend,
                self.mmap_mode,
                self.verbose,
                store_to_pickle(self.store_backend),
            ),
        )


class NotMemorizedResult:
    """What ``call_and_shelve`` returns when caching is off: the value itself.

    ``get()`` returns it; after ``clear()``, ``get()`` raises ``KeyError``.
    """

    __slots__ = ("valid", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.valid = True

    def get(self) -> Any:
        """The value; ``KeyError`` after :meth:`clear`."""
        if not self.valid:
            raise KeyError("No value stored.")
        return self.value

    def clear(self) -> None:
        """Forget the value."""
        self.valid = False
        self.value = None

    def __repr__(self) -> str:
        if self.valid:
            return f"{type(self).__name__}({_verbose.short_repr(self.value)})"
        return f"{type(self).__name__} with no value"

    def __getstate__(self) -> dict[str, Any]:
        return {"valid": self.valid, "value": self.value}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.valid = state["valid"]
        self.value = state["value"]
