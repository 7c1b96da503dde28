"""parallel_config and parallel_backend: settings read by Parallel at call time.

Settings are looked up in order: the innermost ``parallel_config`` context of the
current thread, the process-wide settings of :meth:`parallel_config.set_global`,
then the defaults. Inside a worker of an outer Parallel call, the nested backend of
the outer backend is in effect (see the nested-parallelism rule in the README).
"""

from __future__ import annotations

import threading
from typing import Any

from ._validation import (
    check_backend,
    check_choice,
    check_n_jobs,
    check_temp_folder,
    check_verbose,
)

_UNSET: Any = object()

DEFAULTS: dict[str, Any] = {
    "backend": None,
    "n_jobs": None,
    "verbose": 0,
    "temp_folder": None,
    "max_nbytes": "1M",
    "mmap_mode": "r",
    "prefer": None,
    "require": None,
    "inner_max_num_threads": None,
    "return_exceptions": False,
    "retries": 0,
    "retry_on": (),
    "task_timeout": None,
}

#: The options parallel_config sets besides the backend.
OPTION_NAMES = tuple(name for name in DEFAULTS if name != "backend")

_local = threading.local()
_global: dict[str, Any] = {}
_global_lock = threading.Lock()


def _thread_config() -> dict[str, Any]:
    return getattr(_local, "config", None) or {}


def get_config() -> dict[str, Any]:
    """The settings in effect in this thread (defaults, global, then context)."""
    merged = dict(DEFAULTS)
    merged.update(_global)
    merged.update(_thread_config())
    return merged


def _unknown_options_error(options: dict[str, Any]) -> TypeError:
    """``parallel_config(n_job=2)``: most likely a misspelt setting."""
    from joblet_hash.names import suggest_name

    lines = []
    for name in sorted(options):
        close = suggest_name(name, DEFAULTS)
        hint = f" (did you mean {close!r}?)" if close is not None else ""
        lines.append(f"{name!r} is not a parallel_config option{hint}")
    return TypeError(
        "; ".join(lines)
        + ". Backend parameters are accepted only together with a backend name, "
        "as in parallel_config('loky', idle_worker_timeout=60)"
    )


def _check_failure_settings(values: dict[str, Any]) -> None:
    """Check the failure options given (others keep their defaults)."""
    from ._failures import check_failure_options

    names = ("return_exceptions", "retries", "retry_on", "task_timeout")
    given = [values[name] is not _UNSET for name in names]
    if not any(given):
        return
    checked = check_failure_options(
        *(
            values[name] if values[name] is not _UNSET else DEFAULTS[name]
            for name in names
        )
    )
    for name, was_given, value in zip(names, given, checked, strict=True):
        if was_given:
            values[name] = value


class parallel_config:
    """Set the default backend and settings of ``Parallel`` in a ``with`` block.

    Settings apply to the current thread until the block ends (or until
    :meth:`unregister` when not used as a context manager). Settings left out keep
    their current value. :meth:`set_global` sets process-wide defaults instead.

    Parameters
    ----------
    backend : str, ParallelBackendBase or None
        A backend name (``'loky'``, ``'threading'``, ``'multiprocessing'``,
        ``'sequential'``, a registered or plug-in name such as ``'dask'``) or a
        backend instance.
    n_jobs : int, optional
        Default ``n_jobs`` of ``Parallel`` inside the block.
    verbose, temp_folder, max_nbytes, mmap_mode, prefer, require
        Defaults of the ``Parallel`` parameters of the same names.
    inner_max_num_threads : int, optional
        Number of BLAS/OpenMP threads each worker may use (process and thread
        workers; the default is ``cpu_count() // n_jobs``).
    return_exceptions, retries, retry_on, task_timeout
        Defaults of the ``Parallel`` parameters of the same names (failures that
        do not sink the call).
    **backend_params
        Passed to the backend factory when ``backend`` is a name.

    Examples
    --------
    >>> from math import sqrt
    >>> from joblet_parallel import Parallel, delayed, parallel_config
    >>> with parallel_config(backend="threading", n_jobs=2):
    ...     Parallel()(delayed(sqrt)(i**2) for i in range(4))
    [0.0, 1.0, 2.0, 3.0]
    """

    def __init__(
        self,
        backend: Any = _UNSET,
        *,
        n_jobs: Any = _UNSET,
        verbose: Any = _UNSET,
        temp_folder: Any = _UNSET,
        max_nbytes: Any = _UNSET,
        mmap_mode: Any = _UNSET,
        prefer: Any = _UNSET,
        require: Any = _UNSET,
        inner_max_num_threads: Any = _UNSET,
        return_exceptions: Any = _UNSET,
        retries: Any = _UNSET,
        retry_on: Any = _UNSET,
        task_timeout: Any = _UNSET,
        **backend_params: Any,
    ) -> None:
        # The signature names each option for users and type checkers; the
        # values go on by the names of OPTION_NAMES, not a second list.
        given = locals()
        values = {name: given[name] for name in OPTION_NAMES}
        settings = self._settings(backend, backend_params=backend_params, **values)
        self.old_config = getattr(_local, "config", None)
        new = dict(self.old_config or {})
        if "backend" in settings:
            new.pop("_nested", None)
            new.pop("_max_n_jobs", None)
        new.update(settings)
        _local.config = new
        self.new_config = new

    @staticmethod
    def _settings(
        backend: Any, backend_params: dict[str, Any], **values: Any
    ) -> dict[str, Any]:
        for name in ("prefer", "require", "mmap_mode"):
            if values[name] is not _UNSET:
                check_choice(name, values[name])
        for name, check in (
            ("n_jobs", check_n_jobs),
            ("verbose", check_verbose),
            ("temp_folder", check_temp_folder),
        ):
            if values[name] is not _UNSET:
                values[name] = check(values[name])
        _check_failure_settings(values)
        if values["max_nbytes"] is not _UNSET:
            from ._memmapping import parse_max_nbytes

            parse_max_nbytes(values["max_nbytes"])  # fail here, with advice
        if backend is not _UNSET:
            check_backend(backend)
        settings = {
            name: value for name, value in values.items() if value is not _UNSET
        }
        if backend is not _UNSET and backend is not None:
            # Imported here: worker processes load this module (for the nested
            # backend rule) and never build backends from settings.
            from ._backend_choice import active_nesting_level, make_backend

            threads = values["inner_max_num_threads"]
            settings["backend"] = make_backend(
                backend,
                backend_params,
                None if threads is _UNSET else threads,
                # as joblib: the level of the backend in effect (0 at the top)
                nesting_level=active_nesting_level(get_config()),
            )
        elif backend_params:
            raise _unknown_options_error(backend_params)
        elif values["inner_max_num_threads"] not in (_UNSET, None):
            # It limits the workers of one backend; with none named it would be
            # dropped silently (joblib refuses it the same way).
            raise ValueError(
                "inner_max_num_threads is only supported when backend is not None: "
                "name the backend whose workers it limits, as in "
                "parallel_config('loky', inner_max_num_threads=2)"
            )
        return settings

    @classmethod
    def set_global(cls, backend: Any = _UNSET, **settings: Any) -> None:
        """Set process-wide defaults, seen by every thread outside a context.

        Takes the same arguments as ``parallel_config``. Calling it with no argument
        restores the built-in defaults.

        Examples
        --------
        >>> from joblet_parallel import parallel_config
        >>> parallel_config.set_global(n_jobs=2, prefer="threads")
        >>> parallel_config.set_global()  # back to the defaults
        """
        values = {name: settings.pop(name, _UNSET) for name in OPTION_NAMES}
        new = cls._settings(backend, backend_params=settings, **values)
        with _global_lock:
            _global.clear()
            _global.update(new)

    def unregister(self) -> None:
        """Restore the settings in effect before this object was created."""
        _local.config = self.old_config

    def __enter__(self) -> dict[str, Any]:
        return self.new_config

    def __exit__(self, *exc_info: object) -> None:
        self.unregister()


class parallel_backend(parallel_config):
    """Change the default backend used by ``Parallel`` inside a ``with`` block.

    joblib 0.13's name for :class:`parallel_config`; ``n_jobs`` defaults to -1 (all
    CPUs), as in joblib.

    Parameters
    ----------
    backend : str or ParallelBackendBase
        Backend name or instance.
    n_jobs : int, default -1
        Default number of workers inside the block.
    inner_max_num_threads : int, optional
        BLAS/OpenMP threads per worker (process and thread workers).
    **backend_params
        Passed to the backend factory.

    Examples
    --------
    >>> from operator import neg
    >>> from joblet_parallel import Parallel, delayed, parallel_backend
    >>> with parallel_backend("threading"):
    ...     print(Parallel()(delayed(neg)(i + 1) for i in range(5)))
    [-1, -2, -3, -4, -5]
    """

    def __init__(
        self,
        backend: Any,
        n_jobs: int = -1,
        inner_max_num_threads: int | None = None,
        **backend_params: Any,
    ) -> None:
        super().__init__(
            backend,
            n_jobs=n_jobs,
            inner_max_num_threads=inner_max_num_threads,
            **backend_params,
        )

    def __enter__(self) -> Any:  # joblib returns (backend, n_jobs)
        return self.new_config["backend"], self.new_config["n_jobs"]


def set_nested(backend: Any, max_n_jobs: int | None) -> Any:
    """Enter the nested settings of a task running inside a worker; return a token."""
    old = getattr(_local, "config", None)
    new = {"backend": backend, "_nested": True, "_max_n_jobs": max_n_jobs}
    _local.config = new
    return old


def restore(token: Any) -> None:
    _local.config = token
