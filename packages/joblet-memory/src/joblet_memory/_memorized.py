"""``MemorizedFunc``: a cached function, what ``Memory.cache`` returns.

A call binds its arguments, hashes them (``args_digest``), combines that with
the function's code digest into the entry's id, and reads the entry (see
:mod:`joblet_memory._hits`) or computes and stores it. The code digest comes from the function's code record
(its code and its dependencies), compared with the stored record once per
process by :class:`~joblet_memory._code_check.CodeCheck`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from joblet_hash import FAST_HASH_NAME, UnhashableObjectError
from joblet_hash import hash as hash_value
from joblet_hash.code import display_name
from joblet_persist import Compress

from . import _verbose
from ._code import (
    CodeRecord,
    code_record,
    unchecked_record,
    untracked_details,
    warn_untracked_once,
)
from ._code_check import CodeCheck
from ._counters import CacheInfo, Counters
from ._depends_on import DependsOn
from ._errors import UnhashableArgumentError
from ._explain import (
    CACHING_OFF,
    Explanation,
    MissExplainer,
    argument_digests,
    explain_existing_entry,
)
from ._function_log import add_counts, record_evictions
from ._hits import DAMAGED, MISSING, HitReader, validate
from ._keys import (
    ArgumentBinder,
    closure_state,
    entry_id,
    function_id,
    warn_unhashable_state,
)
from ._limits import LimitsPolicy
from ._location import normalize_location
from ._memos import checked, code_records
from ._results import MemorizedResult, NotMemorizedResult
from ._stores._base import StoreBackendBase
from ._stores._leftovers import sweep_function_once
from ._stores._registry import make_store, store_to_pickle
from ._types import ValidationCallback
from ._warnings import CacheWarning, warn

logger = logging.getLogger("joblet_memory")


class StoreUnreachable(Exception):
    """The store did not answer the code check; the call runs without the cache."""


__all__ = ["MemorizedFunc", "MemorizedResult", "NotMemorizedResult"]


def check_validation_callback(callback: object) -> None:
    """Refuse a ``cache_validation_callback`` that cannot be called (ValueError, as joblib)."""
    if callback is not None and not callable(callback):
        raise ValueError(
            f"cache_validation_callback needs to be callable. Got {callback!r}. Give "
            "a function taking the metadata dict and returning a bool, such as "
            "expires_after(days=1)."
        )


class MemorizedFunc:
    """A function whose results are cached; what ``Memory.cache`` returns.

    Calling it returns the cached result for the same arguments and code, or
    computes, stores and returns it. Methods inspect and manage its entries.

    Parameters
    ----------
    func : callable
        The function to cache.
    location : str, pathlib.Path, StoreBackendBase or None
        The cache location; None disables caching (every call runs ``func``).
    backend : str, default 'local'
        The store backend's registered name.
    ignore : list of str, optional
        Argument names left out of the key.
    mmap_mode : {None, 'r+', 'r', 'w+', 'c'}
        Memory-map numpy arrays of the result, on hits and on the first call.
    compress : bool, int, str or (str, int)
        Compression of stored results (see ``joblet_persist.dump``); compressed
        results cannot be memory-mapped.
    verbose : int, default 1
        0: silent; 1: a message per computation; 5: per hit; 10: paths too.
    cache_validation_callback : callable, optional
        ``callback(metadata) -> bool``; a hit whose metadata it rejects is
        recomputed (see :func:`expires_after`).
    backend_options : dict, optional
        Options of the store backend.
    track_versions : bool, default False
        Also key results by the versions of the third-party distributions the
        function uses (``numpy``, ``scikit-learn``).
    depends_on : list, optional
        Extra dependencies: files (``pathlib.Path``, by content), functions
        (by code), or values (``"model-v3"``).
    check_code : bool, default True
        False: the function's code is not part of the key and edits never
        invalidate its results (joblib's escape hatch).

    Attributes
    ----------
    func : callable
        The original, undecorated function.
    func_id : str
        The function's folder in the store (``module/parts/qualname``).
    store_backend : StoreBackendBase or None
        Where entries live; None when caching is off.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        location: Any = None,
        backend: str = "local",
        ignore: Iterable[str] | None = None,
        mmap_mode: str | None = None,
        compress: Compress = False,
        verbose: int = 1,
        cache_validation_callback: ValidationCallback | None = None,
        backend_options: dict[str, Any] | None = None,
        limits: LimitsPolicy | None = None,
        store_backend: StoreBackendBase | None = None,
        *,
        track_versions: bool = False,
        depends_on: Iterable[Any] | None = None,
        check_code: bool = True,
        memory_counters: Counters | None = None,
    ) -> None:
        if not callable(func):
            raise TypeError(f"Memory.cache expects a callable, got {func!r}")
        check_validation_callback(cache_validation_callback)
        self.func = func
        self.location = normalize_location(location)
        self.backend = backend
        self.ignore = list(ignore or [])
        self.mmap_mode = mmap_mode
        self.compress = compress
        self.verbose = verbose
        self.cache_validation_callback = cache_validation_callback
        self.backend_options = backend_options
        self.limits = limits if limits is not None else LimitsPolicy()
        self.track_versions = bool(track_versions)
        self._depends_on = DependsOn(depends_on)
        self.depends_on = list(depends_on or [])
        self.check_code = bool(check_code)
        if store_backend is None:
            store_backend = make_store(self.location, backend, verbose, backend_options)
        self.store_backend: StoreBackendBase | None = store_backend
        self.func_id = function_id(func)
        self._binder = ArgumentBinder(func, self.ignore)
        self._name = display_name(func)
        self._record: CodeRecord | None = None
        self._hash_state = True
        self._check_lock = threading.Lock()
        self._counters = Counters(
            memory_counters, self._flush_counts if store_backend is not None else None
        )
        self._hits = HitReader(self._name, self._counters)
        try:
            functools.update_wrapper(self, func)
        except (AttributeError, TypeError):
            pass

    # -- pickling -----------------------------------------------------------------

    #: What a pickled MemorizedFunc carries: the constructor's parameters,
    #: read back from the attributes of the same names. A new parameter is
    #: added here once.
    _PICKLED = (
        "func",
        "location",
        "backend",
        "ignore",
        "mmap_mode",
        "compress",
        "verbose",
        "cache_validation_callback",
        "backend_options",
        "limits",
        "track_versions",
        "depends_on",
        "check_code",
    )

    def __reduce__(self) -> tuple[Any, ...]:
        options = {name: getattr(self, name) for name in self._PICKLED}
        # The store travels whole (signer, options): a dask worker reads and
        # writes the same cache with the same key and credentials.
        options["store_backend"] = (
            None if self.store_backend is None else store_to_pickle(self.store_backend)
        )
        return (_rebuild_memorized_func, (type(self), options))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(func={self.func!r}, location={self.location!r})"

    # -- the code record and keys ---------------------------------------------------

    def _code_record(self) -> CodeRecord:
        """The function's code record now (memoized per function object)."""
        if not self.check_code:
            return unchecked_record(self.func)
        if self._depends_on.static:
            return code_record(self.func, self.track_versions, self._depends_on.static)
        return code_records.get(
            self.func,
            self.track_versions,
            lambda: code_record(self.func, self.track_versions),
        )

    def _ensure_checked(self) -> CodeRecord:
        """The current record, compared with the stored one once per code.

        Runs at the first call in the process and again whenever the code or
        a name the record was computed from changed (``%autoreload``).
        """
        record = self._record
        if record is not None and record.is_current():
            return record
        with self._check_lock:
            if self._record is not None and self._record.is_current():
                return self._record
            record = self._code_record()
            warn_untracked_once(self.func_id, record)
            store = self.store_backend
            assert store is not None
            if self.check_code and not checked.is_checked(
                store.location, self.func_id, record.digest
            ):
                self._check_against_store(record, store)
            self._check_state_is_hashable()
            self._record = record
            return record

    def _check_against_store(self, record: CodeRecord, store: StoreBackendBase) -> None:
        """Compare ``record`` with the stored one, once per process and code.

        Raises :class:`StoreUnreachable` (after a ``CacheWarning``) when the
        store does not answer: the caller then computes without the cache,
        and the next call tries the store again.
        """
        try:
            CodeCheck(self.func, self.func_id, record, store, self.verbose).run()
        except Exception as error:
            warn(
                CacheWarning(
                    f"the cache at {store.location} cannot be reached "
                    f"({type(error).__name__}: {error}); {self._name} is computed "
                    "without it (the next call tries the cache again)"
                )
            )
            raise StoreUnreachable(str(error)) from error
        checked.mark(store.location, self.func_id, record.digest)

    def _check_state_is_hashable(self) -> None:
        state = closure_state(self.func)
        if state is None:
            self._hash_state = False
            return
        try:
            hash_value(state, FAST_HASH_NAME)
        except UnhashableObjectError as error:
            self._hash_state = False
            warn_unhashable_state(self.func, error)

    def _args_digest(self, bound: dict[str, Any]) -> str:
        """The hash of the bound arguments, the function's state and files."""
        state = closure_state(self.func) if self._hash_state else None
        files = self._depends_on.file_digests()
        value = (state, bound) if files is None else (state, bound, files)
        try:
            return hash_value(value, FAST_HASH_NAME)
        except UnhashableObjectError as whole:
            failure = whole
        # Find the argument at fault, so the message names it (x['model'].lock).
        for name, argument in bound.items():
            try:
                hash_value(argument, FAST_HASH_NAME)
            except UnhashableObjectError as error:
                raise UnhashableArgumentError(error, name, self._name) from None
        raise failure

    def _bound_call_id(self, bound: dict[str, Any]) -> tuple[str, str]:
        record = self._record
        if record is None or not record.is_current():
            record = self._ensure_checked()
        return (self.func_id, entry_id(record.digest, self._args_digest(bound)))

    def _call_id(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[str, str]:
        return self._bound_call_id(self._binder.bind(args, kwargs))

    # -- computing -----------------------------------------------------------------

    def _compute(
        self,
        store: StoreBackendBase,
        call_id: tuple[str, str],
        bound: dict[str, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        force: bool = False,
    ) -> tuple[Any, dict[str, Any] | None]:
        """Compute and store, one caller at a time per entry. (value, metadata)."""

        def ready() -> bool:
            return store.contains_item(call_id)

        with store.lock_item(call_id, ready if not force else (lambda: False)) as state:
            if state == "ready" and not force:
                value = self._read_hit(store, call_id)
                if value is not MISSING and value is not DAMAGED:
                    return value, None
            elif state == "timeout":
                warn(
                    CacheWarning(
                        f"waited {getattr(store, 'lock_timeout', '?')} s for another "
                        f"process computing {self._name} at {store.item_location(call_id)}; "
                        "computing here too"
                    )
                )
            self._announce(args, kwargs)
            start = time.time()
            value = self.func(*args, **kwargs)
            return self._store_result(store, call_id, bound, value, start)

    def _announce(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._counters.add(misses=1)
        if self.verbose >= _verbose.CALL_VERBOSITY:
            print(_verbose.format_call(self._name, args, kwargs))

    def _store_result(
        self,
        store: StoreBackendBase,
        call_id: tuple[str, str],
        bound: dict[str, Any],
        value: Any,
        start: float,
    ) -> tuple[Any, dict[str, Any]]:
        """Write the computed value and its metadata; enforce the limits."""
        duration = time.time() - start
        record = self._record or self._ensure_checked()
        metadata = {
            "duration": duration,
            "time": start,
            "func": self.func_id,
            "code": record.digest,
            "input_args": _verbose.input_reprs(bound),
            "argument_digests": argument_digests(
                bound, self._depends_on.file_digests()
            ),
        }
        try:
            size = store.dump_item(call_id, value, metadata, self.compress)
        except Exception as error:
            warn(
                CacheWarning(
                    f"the result of {self._name} cannot be stored at "
                    f"{store.item_location(call_id)} ({type(error).__name__}: {error}); "
                    "it is returned uncached"
                )
            )
            self._print_done(duration)
            return value, metadata
        self._counters.add(stores=1)
        sweep_function_once(store, self.func_id)
        self._print_done(duration)
        if self.verbose >= _verbose.PATH_VERBOSITY:
            print(f"[Memory] Stored {self._name} in {store.item_location(call_id)}")
        try:
            self._note_evictions(store, self.limits.after_write(store, size))
        except OSError as error:
            warn(CacheWarning(f"cache limits not enforced: {error}"))
        if self.mmap_mode is not None:
            try:
                value = store.load_item(call_id, self.mmap_mode)
            except Exception:
                pass  # evicted or unreadable already: the computed value is as good
        return value, metadata

    def _note_evictions(self, store: StoreBackendBase, evicted: list[Any]) -> None:
        if not evicted:
            return
        record_evictions(store, evicted)
        own = sum(1 for item in evicted if item.func_id == self.func_id)
        self._counters.add(evictions=own)
        if self._counters.parent is not None and len(evicted) > own:
            self._counters.parent.add(evictions=len(evicted) - own)

    def _print_done(self, duration: float) -> None:
        if self.verbose >= _verbose.CALL_VERBOSITY:
            print(_verbose.format_done(self._name, duration))

    def _flush_counts(self, counts: CacheInfo) -> None:
        if self.store_backend is not None and self._record is not None:
            add_counts(self.store_backend, self.func_id, counts)

    # -- public API -----------------------------------------------------------------

    def _locate(
        self, store: StoreBackendBase, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], tuple[str, str]] | None:
        """The bound arguments and the entry of one call.

        None when the store cannot be reached: the call is then announced as a
        miss and the caller computes without the cache.
        """
        bound = self._binder.bind(args, kwargs)
        try:
            call_id = self._bound_call_id(bound)
        except StoreUnreachable:
            self._announce(args, kwargs)
            return None
        if self.verbose >= _verbose.QUERY_VERBOSITY:
            where = store.item_location(call_id)
            _verbose.report_query(self._name, args, kwargs, call_id[1], where)
        return bound, call_id

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        store = self.store_backend
        if store is None:
            return self.func(*args, **kwargs)
        located = self._locate(store, args, kwargs)
        if located is None:
            return self.func(*args, **kwargs)
        bound, call_id = located
        value = self._read_hit(store, call_id)
        if value is MISSING or value is DAMAGED:
            # A damaged entry was warned about once: recompute, do not reread it.
            force = value is DAMAGED
            value = self._compute(store, call_id, bound, args, kwargs, force)[0]
        return value

    def call(self, *args: Any, **kwargs: Any) -> tuple[Any, dict[str, Any] | None]:
        """Run the function whatever the cache holds, store the result, return it.

        Returns
        -------
        output : object
            What the function returned.
        metadata : dict or None
            What was stored with it (None when caching is off).
        """
        store = self.store_backend
        if store is None:
            return self.func(*args, **kwargs), None
        located = self._locate(store, args, kwargs)
        if located is None:
            return self.func(*args, **kwargs), None
        bound, call_id = located
        return self._compute(store, call_id, bound, args, kwargs, force=True)

    def call_and_shelve(
        self, *args: Any, **kwargs: Any
    ) -> MemorizedResult | NotMemorizedResult:
        """Compute (or find) the result and return a reference to it.

        Returns
        -------
        MemorizedResult or NotMemorizedResult
            ``get()`` reads the value back; a ``NotMemorizedResult`` (caching
            off) holds the value itself.
        """
        store = self.store_backend
        if store is None:
            return NotMemorizedResult(self.func(*args, **kwargs))
        located = self._locate(store, args, kwargs)
        if located is None:
            return NotMemorizedResult(self.func(*args, **kwargs))
        bound, call_id = located
        # As joblib: a hit is decided from the entry and its metadata, without
        # reading the value (which may be large); get() reads it.
        if not self._is_cached(store, call_id):
            self._compute(store, call_id, bound, args, kwargs)
        return self._shelved(store, call_id)

    def _shelved(
        self, store: StoreBackendBase, call_id: tuple[str, str]
    ) -> MemorizedResult:
        return MemorizedResult(
            self.location if not isinstance(self.location, StoreBackendBase) else store,
            self.func_id,
            call_id[1],
            backend=self.backend,
            mmap_mode=self.mmap_mode,
            verbose=max(0, self.verbose - 1),
            store_backend=store,
        )

    def check_call_in_cache(self, *args: Any, **kwargs: Any) -> bool:
        """Whether calling with these arguments would be a cache hit (runs nothing)."""
        store = self.store_backend
        if store is None:
            return False
        try:
            return self._is_cached(store, self._call_id(args, kwargs))
        except StoreUnreachable:
            return False

    def _read_hit(self, store: StoreBackendBase, call_id: tuple[str, str]) -> Any:
        """The cached value, ``MISSING`` or ``DAMAGED`` (see :mod:`._hits`)."""
        return self._hits.load(
            store,
            call_id,
            self.mmap_mode,
            self.verbose,
            self.cache_validation_callback,
        )

    def _is_cached(self, store: StoreBackendBase, call_id: tuple[str, str]) -> bool:
        """The entry exists and the validation callback (if any) accepts it."""
        if not store.contains_item(call_id):
            return False
        return validate(store, call_id, self.cache_validation_callback)[0]

    def explain(self, *args: Any, **kwargs: Any) -> Explanation:
        """Whether this call would be a hit, and if not, why (runs nothing).

        Returns
        -------
        Explanation
            ``.hit``, ``.reason`` (``'hit'``, ``'no entry'``, ``'own code
            changed'``, ``'dependency changed'``, ``'version changed'``,
            ``'expired'``, ``'unreadable'``, ``'evicted'``), ``.summary`` and
            ``.details``; ``print()`` it for a readable report.
        """
        store = self.store_backend
        if store is None:
            return Explanation(False, CACHING_OFF, "caching is off (location=None)")
        record = self._ensure_checked()
        bound = self._binder.bind(args, kwargs)
        args_digest = self._args_digest(bound)
        call_id = (self.func_id, entry_id(record.digest, args_digest))
        found = explain_existing_entry(store, call_id, self.cache_validation_callback)
        if found is not None:
            found.details.extend(untracked_details(record))
            return found
        return MissExplainer(
            store,
            self.func_id,
            self._name,
            record,
            lambda digest: entry_id(digest, args_digest),
            argument_digests(bound, self._depends_on.file_digests()),
        ).explain()

    def cache_info(self) -> CacheInfo:
        """This function's counts in this process since it was decorated.

        Returns
        -------
        CacheInfo
            ``hits``, ``misses``, ``stores``, ``evictions`` and ``time_saved``
            (the sum of the original durations of the hits, in seconds).
        """
        return self._counters.info()

    def clear(self, warn: bool = True) -> None:
        """Remove every cached result of this function (all versions of its code)."""
        store = self.store_backend
        if store is None:
            return
        if warn and self.verbose > 0:
            logger.warning(
                "[Memory(location=%s)]: Clearing function cache identified by %s",
                store.location,
                self.func_id,
            )
        store.clear_path(self.func_id)
        with self._check_lock:
            checked.forget(store.location, self.func_id)
            self._record = None
            self._hits.forget()


def _rebuild_memorized_func(
    cls: type[MemorizedFunc], options: dict[str, Any]
) -> MemorizedFunc:
    return cls(**options)
