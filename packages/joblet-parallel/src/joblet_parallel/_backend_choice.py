"""Which backend a call runs on: the one home of backend construction.

:func:`make_backend` turns what the user named (a backend name, an instance, a
multiprocessing context) into a backend instance; ``parallel_config`` calls it
for the backend it holds. :func:`resolve_backend` chooses the backend of a
``Parallel``: the one named, else the configured one, else the default, then
adjusted for ``prefer`` and ``require``; ``Parallel``, ``effective_n_jobs`` and
``get_active_backend`` call it.
"""

from __future__ import annotations

from typing import Any

from ._backends import (
    MultiprocessingBackend,
    ParallelBackendBase,
    ThreadingBackend,
    is_multiprocessing_context,
)
from ._registry import default_backend_name, get_backend_factory


def make_backend(
    backend: Any,
    params: dict[str, Any] | None = None,
    inner_max_num_threads: int | None = None,
    nesting_level: int = 0,
) -> Any:
    """The backend instance ``backend`` names.

    Parameters
    ----------
    backend : str, multiprocessing context or backend instance
        A registered name (its factory is called with ``params``), a
        multiprocessing context (the multiprocessing backend on it) or an
        instance, returned as it is.
    params : dict, optional
        Backend parameters; refused with an instance.
    inner_max_num_threads : int, optional
        Set on the instance, which must support it.
    nesting_level : int, default 0
        Given to an instance whose level is not set yet (see
        :func:`active_nesting_level`).

    Returns
    -------
    ParallelBackendBase
    """
    params = params or {}
    if isinstance(backend, str):
        instance = get_backend_factory(backend)(**params)
    elif is_multiprocessing_context(backend):
        instance = MultiprocessingBackend(context=backend, **params)
    else:
        if params:
            raise ValueError(
                "backend parameters can only be given with a backend name, not "
                f"with the backend instance {backend!r}"
            )
        instance = backend
    if inner_max_num_threads is not None:
        if not getattr(instance, "supports_inner_max_num_threads", False):
            raise ValueError(
                f"backend {type(instance).__name__} does not accept "
                "inner_max_num_threads; use 'loky', 'multiprocessing' or "
                "'threading'"
            )
        instance.inner_max_num_threads = inner_max_num_threads
    if getattr(instance, "nesting_level", 0) is None:
        instance.nesting_level = nesting_level
    return instance


def active_nesting_level(config: dict[str, Any]) -> int:
    """The nesting level of a backend made under ``config``, as in joblib: that
    of the backend in effect (inside a worker, the nested backend of the outer
    call), 0 at the top level."""
    return getattr(config.get("backend"), "nesting_level", None) or 0


def resolve_backend(
    backend: Any,
    prefer: str | None,
    require: str | None,
    config: dict[str, Any],
    verbose: int = 0,
) -> tuple[ParallelBackendBase, bool]:
    """The backend a ``Parallel`` created with these arguments runs on, and
    whether ``prefer``/``require`` replaced the one named or configured by
    threads.

    As joblib: ``prefer`` and ``require`` choose among backends only when none was
    named (by ``backend=`` or ``parallel_config``); a named backend that cannot
    share memory with ``require='sharedmem'`` is an error, not a silent switch.
    When threads replace the backend, the configured ``n_jobs`` (meant for that
    backend) does not apply: the threads get the default, as in joblib.

    Parameters
    ----------
    backend : str, multiprocessing context, backend instance or None
        What ``Parallel(backend=...)`` received; None takes the configured one.
    prefer, require : str or None
        The hints of the call (already checked).
    config : dict
        The settings in effect (``_config.get_config()``).
    verbose : int, default 0
        From 10, replacing a configured backend by threads for
        ``require='sharedmem'`` is said on stdout, in joblib's words.

    Returns
    -------
    (ParallelBackendBase, bool)
    """
    if prefer == "processes" and require == "sharedmem":
        raise ValueError(
            "prefer='processes' and require='sharedmem' are inconsistent settings: "
            "shared memory needs threads; drop one of them"
        )
    explicit = backend is not None
    chosen = False  # set by parallel_config (not the nested rule of a worker)
    level = active_nesting_level(config)
    if backend is None:
        backend = config.get("backend")
        chosen = backend is not None and not config.get("_nested")
        if backend is None:
            backend = make_backend(default_backend_name(), nesting_level=level)
    else:
        backend = make_backend(backend, nesting_level=level)
    sharedmem = getattr(backend, "supports_sharedmem", False)
    if explicit and require == "sharedmem" and not sharedmem:
        raise ValueError(
            f"Backend {type(backend).__name__} does not support shared memory "
            "(require='sharedmem'); use backend='threading' or leave backend unset"
        )
    switched = False
    if prefer == "threads" and not explicit and not chosen and not backend.uses_threads:
        backend = ThreadingBackend(nesting_level=backend.nesting_level)
        switched = True
    if require == "sharedmem" and not sharedmem:
        threads = ThreadingBackend(nesting_level=backend.nesting_level)
        if chosen and verbose >= 10:
            print(
                f"Using {type(threads).__name__} as joblib backend instead of "
                f"{type(backend).__name__} as the latter does not provide shared "
                "memory semantics."
            )
        backend, switched = threads, True
    return backend, switched
