"""Backend names: built-ins, registered factories, plug-ins and joblib's backends.

Plug-in distributions declare an entry point in the ``joblet.parallel_backends``
group whose name is the backend name and whose object is the backend factory
(usually the class). They are looked up when a name is first used, never at
import time, so ``import joblet_parallel`` stays cheap and this package never names
the plug-ins. A name found nowhere else is looked up among the backends
registered with joblib, which is how the engines' own registration lines reach
joblet (see :mod:`joblet_parallel._joblib_backends`).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from joblet_hash.names import unknown_name_message

from ._errors import UnknownBackendError
from ._joblib_backends import joblib_backend_factory, joblib_backend_names

ENTRY_POINT_GROUP = "joblet.parallel_backends"

# Distributions that provide well-known backends, for the error message.
_KNOWN_PLUGINS = {"dask": "joblet-dask", "ray": "ray", "spark": "joblibspark"}

_lock = threading.Lock()
_factories: dict[str, Callable[..., Any]] = {}
_state = {"default": "loky"}


def _builtin_factories() -> dict[str, Callable[..., Any]]:
    from ._backends import (
        MultiprocessingBackend,
        ProcessBackend,
        SequentialBackend,
        ThreadingBackend,
    )

    return {
        "loky": ProcessBackend,
        "processes": ProcessBackend,
        "multiprocessing": MultiprocessingBackend,
        "threading": ThreadingBackend,
        "sequential": SequentialBackend,
    }


def register_parallel_backend(
    name: str, factory: Callable[..., Any], make_default: bool = False
) -> None:
    """Register a new Parallel backend factory.

    The backend can then be selected by name with ``Parallel(backend=name)`` or
    ``parallel_config(backend=name)``.

    Parameters
    ----------
    name : str
        The backend name.
    factory : callable
        Called with the keyword arguments given to ``parallel_config`` (the
        ``backend_params``); returns a :class:`ParallelBackendBase` instance.
        Usually the backend class itself.
    make_default : bool, default False
        Also make it the default backend of every thread, in place of ``'loky'``.
    """
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a str, got {name!r}")
    if not callable(factory):
        raise TypeError(f"backend factory must be callable, got {factory!r}")
    with _lock:
        _factories[name] = factory
        if make_default:
            _state["default"] = name


def name_of_backend(backend: Any) -> str | None:
    """The name ``backend``'s class is registered under (``'loky'``), if any."""
    cls = type(backend)
    for name, factory in [*_factories.items(), *_builtin_factories().items()]:
        if factory is cls:
            return name
    return None


def gil_disabled() -> bool:
    """Whether this is a free-threaded interpreter running without the GIL."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return is_gil_enabled is not None and not is_gil_enabled()


def default_backend_name() -> str:
    """The backend of a ``Parallel`` that names none and has no configuration.

    ``'loky'`` (joblet's process pool) or what ``make_default`` chose. On a
    free-threaded interpreter with the GIL off (3.13t, 3.14t), threads run
    Python code in parallel and share memory without pickling, so the built-in
    default becomes ``'threading'``.
    """
    name = _state["default"]
    if name == "loky" and gil_disabled():
        return "threading"
    return name


def _from_entry_points(name: str) -> Callable[..., Any] | None:
    from importlib.metadata import entry_points

    for entry_point in entry_points(group=ENTRY_POINT_GROUP, name=name):
        factory: Callable[..., Any] = entry_point.load()
        with _lock:
            _factories.setdefault(name, factory)
        return factory
    return None


def _plugin_names() -> set[str]:
    """The names declared in the entry point group (installed plug-ins)."""
    from importlib.metadata import entry_points

    try:
        return {
            entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)
        }
    except Exception:  # a broken distribution's metadata: list what we know
        return set()


def get_backend_factory(name: str) -> Callable[..., Any]:
    """The factory registered for ``name``, loading plug-ins on first use."""
    factory = _factories.get(name)
    if factory is not None:
        return factory
    builtins = _builtin_factories()
    if name in builtins:
        return builtins[name]
    factory = _from_entry_points(name)
    if factory is not None:
        return factory
    # An engine's backend registered with joblib (ray, spark, ipyparallel).
    factory = joblib_backend_factory(name)
    if factory is not None:
        return factory
    known = {*builtins, *_factories, *_plugin_names(), *joblib_backend_names()}
    hint = ""
    if name in _KNOWN_PLUGINS:
        hint = (
            f" The {name!r} backend is provided by a separate distribution: "
            f"pip install {_KNOWN_PLUGINS[name]}"
        )
    raise UnknownBackendError(
        f"{unknown_name_message('parallel backend', name, known)} (or register one "
        f"with register_parallel_backend() or in the {ENTRY_POINT_GROUP!r} entry "
        f"point group).{hint}"
    )
