"""``Memory``: the caching context that decorates functions."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any, overload

from joblet_persist import MMAP_MODES, Compress

from ._async import AsyncMemorizedFunc
from ._counters import CacheInfo, Counters
from ._function_log import record_evictions
from ._limits import CacheItemInfo, LimitsPolicy, parse_age, parse_bytes, parse_items
from ._location import normalize_location
from ._memorized import MemorizedFunc, check_validation_callback
from ._memos import checked
from ._stores._base import StoreBackendBase
from ._stores._leftovers import find_leftovers, remove_stale
from ._stores._registry import make_store
from ._stores._signing import Signer
from ._suggest import suggest_keywords
from ._types import AgeLimit, BytesLimit, MmapModeOverride, ValidationCallback
from ._warnings import warn

logger = logging.getLogger("joblet_memory")


def _check_mmap_mode(mmap_mode: Any) -> None:
    if mmap_mode not in MMAP_MODES:
        raise ValueError(f"mmap_mode must be one of {MMAP_MODES!r}, got {mmap_mode!r}")


class Memory:
    """A context for caching a function's results on disk, keyed by its arguments.

    Parameters
    ----------
    location : str, pathlib.Path, StoreBackendBase or None
        The folder of the cache (entries go under ``<location>/joblet/``). None
        disables caching: decorated functions run every time. ``str`` and
        ``pathlib.Path`` give the same cache.
    backend : str, default 'local'
        The store backend's registered name (see ``register_store_backend``).
    mmap_mode : {None, 'r+', 'r', 'w+', 'c'}
        Memory-map numpy arrays of cached results (hits and first calls). Use
        'r' or 'c': 'r+' and 'w+' let changes reach the cache.
    compress : bool, int, str or (str, int), default False
        Compression of stored results; compressed results load in memory even
        with ``mmap_mode``.
    verbose : int, default 1
        0: silent; 1: a message per computation; 5: per hit; 10: paths too.
    bytes_limit : int or str, optional
        Total size the cache is kept under (``'1G'``), least recently used
        entries first, enforced after each write.
    backend_options : dict, optional
        Store backend options; for 'local': ``lock`` (default True: one caller
        computes a missing entry while others wait) and ``lock_timeout``
        (seconds, default 600).
    items_limit : int, optional
        Most entries kept, enforced like ``bytes_limit``.
    age_limit : datetime.timedelta, float (seconds) or str ('7d'), optional
        Entries not used for longer are removed, enforced like ``bytes_limit``.
    track_versions : bool, default False
        Key every cached function's results also by the versions of the
        third-party distributions it uses (see ``Memory.cache``).
    signing_key : bytes or str, optional
        The secret that signs every entry written and is checked before any
        entry is loaded (at least 16 bytes). Default: the ``JOBLET_CACHE_KEY``
        environment variable, else a key file created once in the user's
        configuration folder. A team sharing a cache shares the key.
    trust_unsigned : bool, default False
        Also read entries without a signature (a cache written by a joblet
        from before signing). Entries with a wrong signature are refused anyway.
    local_cache : str or pathlib.Path, optional
        For an object-store location with ``mmap_mode``: the local folder
        results are downloaded to once and memory-mapped from (default: under
        the user's cache folder).

    Raises
    ------
    ValueError
        If ``location`` is an existing file (not a folder).

    Examples
    --------
    >>> import shutil, tempfile
    >>> from joblet_memory import Memory
    >>> location = tempfile.mkdtemp()
    >>> memory = Memory(location, verbose=0)
    >>> @memory.cache
    ... def f(x):
    ...     print('Running f(%s)' % x)
    ...     return x
    >>> f(1)
    Running f(1)
    1
    >>> f(1)
    1
    >>> shutil.rmtree(location)  # the cache is a plain folder
    """

    @suggest_keywords
    def __init__(
        self,
        location: Any = None,
        backend: str = "local",
        mmap_mode: str | None = None,
        compress: Compress = False,
        verbose: int = 1,
        bytes_limit: BytesLimit = None,
        backend_options: dict[str, Any] | None = None,
        *,
        items_limit: int | None = None,
        age_limit: AgeLimit = None,
        track_versions: bool = False,
        signing_key: bytes | str | None = None,
        trust_unsigned: bool = False,
        local_cache: str | os.PathLike[str] | None = None,
    ) -> None:
        _check_mmap_mode(mmap_mode)
        if compress and mmap_mode is not None:
            warn(
                "compressed results cannot be memory-mapped: they will load in memory "
                f"despite mmap_mode={mmap_mode!r}"
            )
        self.location = normalize_location(location)
        self.backend = backend
        self.mmap_mode = mmap_mode
        self.compress = compress
        self.verbose = verbose
        self.backend_options = dict(backend_options or {})
        self.limits = LimitsPolicy(bytes_limit, items_limit, age_limit)
        self.track_versions = bool(track_versions)
        self._counters = Counters()
        self.store_backend: StoreBackendBase | None = make_store(
            self.location,
            backend,
            verbose,
            self.backend_options,
            signer=Signer(signing_key, trust_unsigned),
            local_cache=local_cache,
        )

    @property
    def bytes_limit(self) -> int | None:
        return self.limits.bytes_limit

    @overload
    def cache(
        self,
        func: Callable[..., Any],
        ignore: Iterable[str] | None = None,
        verbose: int | None = None,
        mmap_mode: MmapModeOverride = False,
        cache_validation_callback: ValidationCallback | None = None,
        *,
        track_versions: bool | None = None,
        depends_on: Iterable[Any] | None = None,
        check_code: bool = True,
    ) -> MemorizedFunc: ...

    @overload
    def cache(
        self,
        func: None = None,
        ignore: Iterable[str] | None = None,
        verbose: int | None = None,
        mmap_mode: MmapModeOverride = False,
        cache_validation_callback: ValidationCallback | None = None,
        *,
        track_versions: bool | None = None,
        depends_on: Iterable[Any] | None = None,
        check_code: bool = True,
    ) -> Callable[[Callable[..., Any]], MemorizedFunc]: ...

    @suggest_keywords
    def cache(
        self,
        func: Callable[..., Any] | None = None,
        ignore: Iterable[str] | None = None,
        verbose: int | None = None,
        mmap_mode: MmapModeOverride = False,
        cache_validation_callback: ValidationCallback | None = None,
        *,
        track_versions: bool | None = None,
        depends_on: Iterable[Any] | None = None,
        check_code: bool = True,
    ) -> MemorizedFunc | Callable[[Callable[..., Any]], MemorizedFunc]:
        """Decorate ``func`` so that its results are cached.

        Usable as ``@memory.cache`` and ``@memory.cache(ignore=[...])``.

        Parameters
        ----------
        func : callable, optional
            The function; omit it to get a decorator with the other options.
        ignore : list of str, optional
            Argument names left out of the key (``['debug']``); an unknown name
            is a ``ValueError`` here.
        verbose : int, optional
            Defaults to the Memory's.
        mmap_mode : {None, 'r+', 'r', 'w+', 'c'}, optional
            Defaults to the Memory's.
        cache_validation_callback : callable, optional
            ``callback(metadata) -> bool``; rejected hits are recomputed. See
            :func:`expires_after`.
        track_versions : bool, optional
            Also key results by the versions of the third-party distributions
            the function uses (numpy, scikit-learn): upgrading one recomputes.
            Defaults to the Memory's.
        depends_on : list, optional
            Extra dependencies: files (``pathlib.Path``, by content digest),
            functions (by code, followed like the function's own calls) or
            hashable values (``"model-v3"``). A ``str`` is a value, not a path.
        check_code : bool, default True
            False: the code is not part of the key; editing the function (or
            what it calls) never invalidates its results.

        Returns
        -------
        MemorizedFunc
            Callable like ``func``, with ``call``, ``call_and_shelve``,
            ``check_call_in_cache``, ``explain``, ``cache_info`` and
            ``clear``. An ``async def`` function gives an
            ``AsyncMemorizedFunc``, whose calls are awaited.
        """
        # Checked here too, so the decorator form fails at the decorator line.
        if ignore is not None and (
            isinstance(ignore, str) or not isinstance(ignore, Iterable)
        ):
            raise TypeError(f"ignore must be a list of argument names, got {ignore!r}")
        check_validation_callback(cache_validation_callback)
        if mmap_mode is not False:
            _check_mmap_mode(mmap_mode)
        if func is None:
            return lambda f: self.cache(
                f,
                ignore=ignore,
                verbose=verbose,
                mmap_mode=mmap_mode,
                cache_validation_callback=cache_validation_callback,
                track_versions=track_versions,
                depends_on=depends_on,
                check_code=check_code,
            )
        if isinstance(func, MemorizedFunc):
            func = func.func
        if mmap_mode is False:
            mmap_mode = self.mmap_mode
        _check_mmap_mode(mmap_mode)
        cls = AsyncMemorizedFunc if inspect.iscoroutinefunction(func) else MemorizedFunc
        return cls(
            func,
            self.location,
            backend=self.backend,
            ignore=ignore,
            mmap_mode=mmap_mode,  # type: ignore[arg-type]
            compress=self.compress,
            verbose=self.verbose if verbose is None else verbose,
            cache_validation_callback=cache_validation_callback,
            backend_options=self.backend_options,
            limits=self.limits,
            store_backend=self.store_backend,
            track_versions=(
                self.track_versions if track_versions is None else track_versions
            ),
            depends_on=depends_on,
            check_code=check_code,
            memory_counters=self._counters,
        )

    def eval(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``func(*args, **kwargs)`` through the cache."""
        if self.store_backend is None:
            return func(*args, **kwargs)
        return self.cache(func)(*args, **kwargs)

    def clear(self, warn: bool = True) -> None:
        """Erase the whole cache (everything under ``<location>/joblet``)."""
        if self.store_backend is None:
            return
        if warn and self.verbose > 0:  # verbose=0 is silent, as MemorizedFunc.clear
            logger.warning("[%r]: Flushing completely the cache", self)
        self.store_backend.clear_path("")
        checked.forget(self.store_backend.location)

    def cache_info(self) -> CacheInfo:
        """The counts of every function this Memory cached, in this process.

        Returns
        -------
        CacheInfo
            ``hits``, ``misses``, ``stores``, ``evictions`` and ``time_saved``.
        """
        return self._counters.info()

    def reduce_size(
        self,
        bytes_limit: BytesLimit = None,
        items_limit: int | None = None,
        age_limit: AgeLimit = None,
    ) -> list[CacheItemInfo]:
        """Remove least recently used entries until the cache fits the limits.

        With no argument, the Memory's own limits apply. Temporary files left
        by killed writers count in the size; those older than a few minutes
        are removed in any case.

        Parameters
        ----------
        bytes_limit : int or str, optional
            Most bytes kept (``'500M'``).
        items_limit : int, optional
            Most entries kept.
        age_limit : datetime.timedelta, float or str, optional
            Entries not used for longer than this are removed.

        Returns
        -------
        list of CacheItemInfo
            The removed entries.
        """
        if self.store_backend is None:
            return []
        if bytes_limit is None and items_limit is None and age_limit is None:
            limits = (
                self.limits.bytes_limit,
                self.limits.items_limit,
                self.limits.age_limit,
            )
        else:
            limits = (
                parse_bytes(bytes_limit),
                parse_items(items_limit),
                parse_age(age_limit),
            )
        if limits == (None, None, None):
            remove_stale(find_leftovers(self.store_backend))
            return []
        evicted = self.limits.enforce_limits(self.store_backend, *limits)
        if evicted:
            record_evictions(self.store_backend, evicted)
            self._counters.add(evictions=len(evicted))
        return evicted

    def __repr__(self) -> str:
        return f"{type(self).__name__}(location={self.location!r})"

    def __getstate__(self) -> dict[str, Any]:
        # The counts belong to this process's pending flushes: a copy starts its own.
        state = self.__dict__.copy()
        state.pop("_counters", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._counters = Counters()
        if self.store_backend is None and self.location is not None:
            self.store_backend = make_store(
                self.location, self.backend, self.verbose, self.backend_options
            )
