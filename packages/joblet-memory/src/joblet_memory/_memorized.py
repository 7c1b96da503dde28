"""``MemorizedFunc`` (a cached function) and the results of ``call_and_shelve``."""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from joblet_hash import FAST_HASH_NAME, UnhashableObjectError
from joblet_hash import hash as hash_value

from . import _verbose
from ._code import CodeRecord, code_record, is_lambda, still_in_file
from ._keys import (
    ArgumentBinder,
    closure_state,
    function_id,
    function_name,
    warn_unhashable_state,
)
from ._limits import LimitsPolicy
from ._store import StoreBackendBase, make_store
from ._warnings import CacheWarning, JobletCollisionWarning

logger = logging.getLogger("joblet_memory")

_MISSING = object()

# Process-wide memo of what was already checked, so that re-wrapping a function
# (``memory.cache(f)`` inside a loop) costs nothing after the first time.
_RECORDS: weakref.WeakKeyDictionary[Any, CodeRecord] = weakref.WeakKeyDictionary()
_CHECKED: set[tuple[str, str, str]] = set()
# func_id -> {digest: weak reference to (or the) function}: live functions
# sharing one identity in this process, for collision warnings.
_LIVE: dict[str, dict[str, tuple[Callable[[], Any], CodeRecord]]] = {}
_registry_lock = threading.Lock()


def _record_of(func: Any) -> CodeRecord:
    try:
        record = _RECORDS.get(func)
    except TypeError:
        return code_record(func)
    if record is None:
        record = code_record(func)
        try:
            _RECORDS[func] = record
        except TypeError:
            pass
    return record


def _strong(value: Any) -> Callable[[], Any]:
    return lambda: value


def _both_defined(old: CodeRecord, new: CodeRecord) -> bool:
    """Whether two live code records are two functions, not one edited function."""
    if (old.file, old.first_line) == (new.file, new.first_line):
        return False  # same place: the source was edited and reloaded
    if old.file is None or not os.path.exists(old.file):
        return True  # exec'd or typed code: two definitions at two places
    return still_in_file(old)


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
        compress: bool | int | str | tuple[str, int] = False,
        verbose: int = 1,
        cache_validation_callback: Callable[[dict[str, Any]], bool] | None = None,
        backend_options: dict[str, Any] | None = None,
        limits: LimitsPolicy | None = None,
        store_backend: StoreBackendBase | None = None,
    ) -> None:
        if not callable(func):
            raise TypeError(f"Memory.cache expects a callable, got {func!r}")
        if cache_validation_callback is not None and not callable(
            cache_validation_callback
        ):
            raise ValueError(
                "cache_validation_callback must be a callable taking the metadata "
                f"dict and returning a bool, got {cache_validation_callback!r}"
            )
        self.func = func
        self.location = (
            os.fspath(location) if isinstance(location, os.PathLike) else location
        )
        self.backend = backend
        self.ignore = list(ignore or [])
        self.mmap_mode = mmap_mode
        self.compress = compress
        self.verbose = verbose
        self.cache_validation_callback = cache_validation_callback
        self.backend_options = backend_options
        self.limits = limits if limits is not None else LimitsPolicy()
        if store_backend is None:
            store_backend = make_store(self.location, backend, verbose, backend_options)
        self.store_backend: StoreBackendBase | None = store_backend
        self.func_id = function_id(func)
        self._binder = ArgumentBinder(func, self.ignore)
        self._name = function_name(func)
        self._code_digest: str | None = None
        self._hash_state = True
        self._check_lock = threading.Lock()
        try:
            functools.update_wrapper(self, func)
        except (AttributeError, TypeError):
            pass

    # -- pickling -----------------------------------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_memorized_func,
            (
                self.func,
                self.location,
                self.backend,
                self.ignore,
                self.mmap_mode,
                self.compress,
                self.verbose,
                self.cache_validation_callback,
                self.backend_options,
                self.limits,
            ),
        )

    def __repr__(self) -> str:
        return f"MemorizedFunc(func={self.func!r}, location={self.location!r})"

    # -- keys -----------------------------------------------------------------------

    def _check_code(self) -> None:
        """First call in this process: compare the code with the stored record."""
        with self._check_lock:
            if self._code_digest is not None:
                return
            record = _record_of(self.func)
            store = self.store_backend
            assert store is not None
            key = (store.location, self.func_id, record.digest)
            if key not in _CHECKED:
                self._compare_with_stored(store, record)
                _CHECKED.add(key)
            state = closure_state(self.func)
            if state is None:
                self._hash_state = False
            else:
                try:
                    hash_value(state, FAST_HASH_NAME)
                except UnhashableObjectError as error:
                    self._hash_state = False
                    warn_unhashable_state(self.func, error)
            self._code_digest = record.digest

    def _compare_with_stored(self, store: StoreBackendBase, record: CodeRecord) -> None:
        collision = False
        with _registry_lock:
            live = _LIVE.setdefault(self.func_id, {})
            for digest, (ref, other) in list(live.items()):
                if ref() is None:
                    del live[digest]
                elif digest != record.digest and _both_defined(other, record):
                    collision = True
            try:
                live[record.digest] = (weakref.ref(self.func), record)
            except TypeError:
                live[record.digest] = (_strong(self.func), record)
        try:
            text = store.get_cached_func_code(self.func_id)
        except OSError:
            text = None
        old: CodeRecord | None = None
        if text is not None:
            try:
                old = CodeRecord.from_json(text)
            except (ValueError, KeyError, TypeError):
                old = None
        if old is not None and old.digest == record.digest:
            return
        if old is not None:
            where = f"{record.file}:{record.first_line}" if record.file else "?"
            if is_lambda(record):
                collision = True
                warnings.warn(
                    JobletCollisionWarning(
                        f"Cannot detect name collisions for function '{record.name}' ({where})"
                    ),
                    stacklevel=5,
                )
            elif collision or (
                old.first_line != record.first_line and still_in_file(old)
            ):
                collision = True
                warnings.warn(
                    JobletCollisionWarning(
                        f"Possible name collisions between functions '{old.name}' "
                        f"({old.file}:{old.first_line}) and '{record.name}' ({where}); "
                        "their results are kept apart, but rename one so that each "
                        "keeps its cache across sessions"
                    ),
                    stacklevel=5,
                )
            if not collision:
                if self.verbose >= _verbose.PATH_VERBOSITY:
                    print(
                        f"[Memory] Function {self._name} (identified by {self.func_id}) "
                        "has changed; removing its old results"
                    )
                self._remove_stale(store, record.digest)
        try:
            store.store_cached_func_code(self.func_id, record.to_json())
        except OSError:
            pass  # read-only cache: the next process will compare again

    def _remove_stale(self, store: StoreBackendBase, digest: str) -> None:
        try:
            items = store.get_items(self.func_id)
        except OSError:
            return
        for item in items:
            call_id = (item.func_id, item.args_id)
            try:
                code = store.get_metadata(call_id).get("code")
            except (KeyError, ValueError, OSError):
                continue
            if code != digest:
                try:
                    store.clear_item(call_id)
                except OSError:
                    return

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        return self._binder.bind(args, kwargs)

    def _args_id(self, bound: dict[str, Any]) -> str:
        if self._code_digest is None:
            self._check_code()
        state = closure_state(self.func) if self._hash_state else None
        try:
            return hash_value((self._code_digest, state, bound), FAST_HASH_NAME)
        except UnhashableObjectError as whole:
            failure = whole
        # Find the argument at fault, so the message names it (x['model'].lock).
        for name, value in bound.items():
            try:
                hash_value(value, FAST_HASH_NAME)
            except UnhashableObjectError as error:
                error.root = name
                raise error from None
        raise failure

    def _call_id(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[str, str]:
        return (self.func_id, self._args_id(self._bind(args, kwargs)))

    # -- reading and computing -----------------------------------------------------

    def _load(self, store: StoreBackendBase, call_id: tuple[str, str]) -> Any:
        """The valid cached value, or ``_MISSING``. Never raises for a bad entry."""
        start = time.time()
        if self.cache_validation_callback is not None:
            try:
                metadata = store.get_metadata(call_id)
            except (KeyError, ValueError, OSError):
                return _MISSING
            if not self.cache_validation_callback(metadata):
                if self.verbose >= _verbose.PATH_VERBOSITY:
                    print(
                        f"[Memory] {self._name}: cached result rejected by the validation callback"
                    )
                return _MISSING
        try:
            value = store.load_item(call_id, self.mmap_mode)
        except KeyError:
            return _MISSING
        except Exception as error:
            warnings.warn(
                CacheWarning(
                    f"the cached result of {self._name} at {store.item_location(call_id)} "
                    f"cannot be read ({type(error).__name__}: {error}); it is recomputed "
                    "and stored again"
                ),
                stacklevel=4,
            )
            return _MISSING
        store.touch_item(call_id)
        if self.verbose >= _verbose.LOAD_VERBOSITY:
            if self.verbose >= _verbose.PATH_VERBOSITY:
                print(
                    f"[Memory] Loading {self._name} from {store.item_location(call_id)}"
                )
            print(
                _verbose.format_done(self._name, time.time() - start, " cache loaded")
            )
        return value

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
                value = self._load(store, call_id)
                if value is not _MISSING:
                    return value, None
            elif state == "timeout":
                warnings.warn(
                    CacheWarning(
                        f"waited {getattr(store, 'lock_timeout', '?')} s for another "
                        f"process computing {self._name} at {store.item_location(call_id)}; "
                        "computing here too"
                    ),
                    stacklevel=4,
                )
            if self.verbose >= _verbose.CALL_VERBOSITY:
                print(_verbose.format_call(self._name, args, kwargs))
            start = time.time()
            value = self.func(*args, **kwargs)
            duration = time.time() - start
            metadata = {
                "duration": duration,
                "time": start,
                "func": self.func_id,
                "code": self._code_digest,
                "input_args": _verbose.input_reprs(bound),
            }
            try:
                size = store.dump_item(call_id, value, metadata, self.compress)
            except Exception as error:
                warnings.warn(
                    CacheWarning(
                        f"the result of {self._name} cannot be stored at "
                        f"{store.item_location(call_id)} ({type(error).__name__}: {error}); "
                        "it is returned uncached"
                    ),
                    stacklevel=4,
                )
                self._print_done(duration)
                return value, metadata
        self._print_done(duration)
        if self.verbose >= _verbose.PATH_VERBOSITY:
            print(f"[Memory] Stored {self._name} in {store.item_location(call_id)}")
        try:
            self.limits.after_write(store, size)
        except OSError as error:
            warnings.warn(
                CacheWarning(f"cache limits not enforced: {error}"), stacklevel=3
            )
        if self.mmap_mode is not None:
            try:
                value = store.load_item(call_id, self.mmap_mode)
            except Exception:
                pass  # evicted or unreadable already: the computed value is as good
        return value, metadata

    def _print_done(self, duration: float) -> None:
        if self.verbose >= _verbose.CALL_VERBOSITY:
            print(_verbose.format_done(self._name, duration))

    # -- public API -----------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        store = self.store_backend
        if store is None:
            return self.func(*args, **kwargs)
        bound = self._binder.bind(args, kwargs)
        call_id = (self.func_id, self._args_id(bound))
        value = self._load(store, call_id)
        if value is _MISSING:
            value = self._compute(store, call_id, bound, args, kwargs)[0]
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
        bound = self._binder.bind(args, kwargs)
        call_id = (self.func_id, self._args_id(bound))
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
        bound = self._binder.bind(args, kwargs)
        call_id = (self.func_id, self._args_id(bound))
        # As joblib: a hit is decided from the entry and its metadata, without
        # reading the value (which may be large); get() reads it.
        if not self._is_cached(store, call_id):
            self._compute(store, call_id, bound, args, kwargs)
        return MemorizedResult(
            self.location if not isinstance(self.location, StoreBackendBase) else store,
            self.func_id,
            call_id[1],
            backend=self.backend,
            mmap_mode=self.mmap_mode,
            verbose=max(0, self.verbose - 1),
        )

    def check_call_in_cache(self, *args: Any, **kwargs: Any) -> bool:
        """Whether calling with these arguments would be a cache hit (runs nothing)."""
        store = self.store_backend
        if store is None:
            return False
        return self._is_cached(store, self._call_id(args, kwargs))

    def _is_cached(self, store: StoreBackendBase, call_id: tuple[str, str]) -> bool:
        """The entry exists and the validation callback (if any) accepts it."""
        if not store.contains_item(call_id):
            return False
        if self.cache_validation_callback is not None:
            try:
                return bool(self.cache_validation_callback(store.get_metadata(call_id)))
            except (KeyError, ValueError, OSError):
                return False
        return True

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
            _CHECKED.difference_update(
                {
                    key
                    for key in _CHECKED
                    if key[0] == store.location and key[1] == self.func_id
                }
            )
            self._code_digest = None


def _rebuild_memorized_func(*args: Any) -> MemorizedFunc:
    return MemorizedFunc(*args)


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
    """

    def __init__(
        self,
        location: Any,
        func: str | Callable[..., Any],
        args_id: str,
        backend: str = "local",
        mmap_mode: str | None = None,
        verbose: int = 0,
    ) -> None:
        self.location = (
            os.fspath(location) if isinstance(location, os.PathLike) else location
        )
        self.func = func if isinstance(func, str) else function_id(func)
        self.args_id = args_id
        self.backend = backend
        self.mmap_mode = mmap_mode
        self.verbose = verbose
        store = make_store(self.location, backend, verbose, None)
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
