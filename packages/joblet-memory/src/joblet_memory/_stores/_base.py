"""Store backends: what ``Memory`` asks of the place its entries live.

An **entry** is one cached call, addressed by ``call_id = (func_id, args_id)``:
``func_id`` is the function's path (``'pkg/module/func'``, see
:func:`joblet_memory._keys.function_id`) and ``args_id`` the 32-hex-digit hash
of its arguments and code. This module holds the interface every backend
implements and what the backends share (option parsing, the metadata file);
the backends are :mod:`joblet_memory._stores._local` (a folder tree) and
:mod:`joblet_memory._stores._fsspec` (object stores), chosen by name or URL in
:mod:`joblet_memory._stores._registry`.
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from typing import Any, ClassVar

from joblet_persist import Compress

from .._limits import CacheItemInfo, select_evictions
from ._leftovers import Leftover
from ._signing import Signer

CallId = tuple[str, str]

CACHE_FOLDER = "joblet"
METADATA_NAME = "metadata.json"
FUNC_CODE_NAME = "func_code.json"


def entry_name(call_id: CallId) -> str:
    """The name an entry's signature is bound to (``func_id/args_id``)."""
    return f"{call_id[0]}/{call_id[1]}"


def metadata_text(metadata: dict[str, Any], size: int) -> str:
    """The text of an entry's ``metadata.json``: ``metadata`` plus the result's size."""
    return json.dumps({**metadata, "size": size}, indent=1, default=str)


def parse_metadata(text: str | bytes, where: str) -> dict[str, Any]:
    """The metadata read from an entry's ``metadata.json``; ValueError if not an object."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(
            f"the metadata of {where} holds {type(data).__name__}, not a JSON object"
        )
    return data


class StoreBackendBase(ABC):
    """The interface ``Memory`` uses to keep entries; subclass it for new stores.

    Implement the abstract methods, then make the backend available by name with
    ``register_store_backend('mystore', MyStoreBackend)`` and use it with
    ``Memory(location, backend='mystore', backend_options={...})``.

    Contract, for every method taking ``call_id = (func_id, args_id)``:

    * :meth:`load_item` raises ``KeyError`` when there is no entry; any other
      exception means the entry is damaged: ``Memory`` warns, recomputes and
      calls :meth:`dump_item` again, which must replace it.
    * :meth:`dump_item` must be atomic: a concurrent :meth:`load_item` sees the
      old value, no value, or the whole new one; never part of one. It raises
      ``OSError`` when the store cannot be written (read-only, full); ``Memory``
      then warns and returns the result uncached.
    * Methods that record or list things (:meth:`touch_item`,
      :meth:`get_items`) must be cheap or rare: :meth:`touch_item` runs on every
      cache hit.

    Attributes
    ----------
    location : str
        Where the store keeps its data; shown in messages and in
        ``MemorizedResult`` reprs.
    """

    location: str = ""
    verbose: int = 0
    #: Options every backend takes, with their defaults (subclasses add theirs):
    #: ``lock``, whether one caller computes a missing entry while the others
    #: wait, and ``lock_timeout``, the seconds they wait before computing.
    OPTIONS: ClassVar[dict[str, Any]] = {"lock": True, "lock_timeout": 600.0}
    lock: bool = True
    lock_timeout: float = 600.0
    #: Signs what :meth:`dump_item` writes and checks what :meth:`load_item`
    #: reads; ``Memory`` sets it from ``signing_key=`` and ``trust_unsigned=``.
    signer: Signer = Signer()
    #: Whether ``make_store(location, backend)`` alone rebuilds this store.
    from_location_alone: bool = False

    @abstractmethod
    def configure(
        self,
        location: str,
        verbose: int = 0,
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        """Point the backend at ``location`` with its options; create nothing yet."""

    @abstractmethod
    def load_item(self, call_id: CallId, mmap_mode: str | None = None) -> Any:
        """The stored value; ``KeyError`` if absent."""

    @abstractmethod
    def dump_item(
        self,
        call_id: CallId,
        value: Any,
        metadata: dict[str, Any],
        compress: Compress = False,
    ) -> int:
        """Store ``value`` and its ``metadata`` atomically; return the bytes used."""

    @abstractmethod
    def contains_item(self, call_id: CallId) -> bool:
        """Whether a complete entry exists."""

    @abstractmethod
    def get_metadata(self, call_id: CallId) -> dict[str, Any]:
        """The metadata stored with the entry; ``KeyError`` if absent."""

    @abstractmethod
    def clear_item(self, call_id: CallId) -> None:
        """Remove one entry (no error if it is already gone)."""

    @abstractmethod
    def clear_path(self, func_id: str = "") -> None:
        """Remove a function's entries and code record; ``''`` removes everything."""

    @abstractmethod
    def get_cached_func_code(self, func_id: str) -> str | None:
        """The stored code record (JSON text) of ``func_id``, or None."""

    @abstractmethod
    def store_cached_func_code(self, func_id: str, record: str) -> None:
        """Store the code record of ``func_id`` (atomically)."""

    @abstractmethod
    def get_items(self, func_id: str | None = None) -> list[CacheItemInfo]:
        """Every complete entry (of one function when ``func_id`` is given)."""

    def entry_signer(self) -> Signer | None:
        """The signer of this store's entries, or None when they need no signature.

        Remote and shared stores sign (the default); the local store reads a
        folder only its user can write without signatures (see
        :mod:`joblet_memory._stores._trust`).
        """
        return self.signer

    def item_location(self, call_id: CallId) -> str:
        """A human-readable address of the entry, for messages."""
        return f"{self.location}/{call_id[0]}/{call_id[1]}"

    def verify_item(self, call_id: CallId) -> str | None:
        """Why the entry would be refused (unsigned, tampered), or None if sound.

        Reads only what the signature covers; never unpickles. Backends that
        do not sign their entries return ``'not verifiable'``.
        """
        return "not verifiable"

    def find_leftovers(self, func_id: str = "") -> list[Leftover]:
        """Temporary files of killed writers (of one function, or all).

        The default has none; a store writing temporaries beside its entries
        (the local store) lists them, so that they count in its size and are
        swept (see :mod:`joblet_memory._stores._leftovers`).
        """
        return []

    def function_ids(self) -> list[str]:
        """Every function with entries or a code record (for listings)."""
        return sorted({item.func_id for item in self.get_items()})

    def touch_item(self, call_id: CallId) -> None:
        """Record that the entry was just used (for least-recently-used eviction).

        The default records nothing, so eviction falls back to creation order.
        """
        return None

    def lock_item(
        self, call_id: CallId, ready: Callable[[], bool]
    ) -> ContextManager[str]:
        """Let one caller compute a missing entry while the others wait.

        The context yields ``'acquired'`` (compute), ``'ready'`` (the entry
        appeared meanwhile), ``'timeout'`` or ``'unavailable'`` (compute without
        waiting). The default has no locking: everyone computes.
        """
        return contextlib.nullcontext("unavailable")

    def enforce_limits(
        self,
        now: float,
        bytes_limit: int | None = None,
        items_limit: int | None = None,
        age_limit: float | None = None,
        items: list[CacheItemInfo] | None = None,
    ) -> list[CacheItemInfo]:
        """Remove least recently used entries until the limits hold; return them."""
        if items is None:
            items = self.get_items()
        evicted = select_evictions(items, now, bytes_limit, items_limit, age_limit)
        for item in evicted:
            self.clear_item((item.func_id, item.args_id))
        return evicted

    # -- shared by the backends -----------------------------------------------------

    def _take_options(
        self, backend_options: dict[str, Any] | None, verbose: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split ``backend_options`` into this backend's :attr:`OPTIONS` and the rest.

        Returns the backend's own options with their defaults filled in (and
        sets :attr:`lock`, :attr:`lock_timeout` and :attr:`verbose` from them),
        and the options it does not know, for the backend to refuse or pass on.
        """
        options = dict(self.OPTIONS)
        others = {}
        for name, value in (backend_options or {}).items():
            if name in options:
                options[name] = value
            else:
                others[name] = value
        self.lock = bool(options.get("lock", True))
        self.lock_timeout = float(options.get("lock_timeout", 600.0))
        self.verbose = verbose
        return options, others

    def __repr__(self) -> str:  # the location only: options may hold secrets
        return f"{type(self).__name__}(location={self.location!r})"
