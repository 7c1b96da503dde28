"""Backends registered with joblib, found by name: Ray, Spark, ipyparallel.

Distributed engines ship a joblib backend and a registration line for their
users (``ray.util.joblib.register_ray()``, ``joblibspark.register_spark()``,
ipyparallel's ``view.register_joblib_backend()``); each registers with joblib.
When ``parallel_config(backend=name)`` or ``Parallel(backend=name)`` names a
backend joblet does not know, joblet looks in joblib's registry (importing
joblib only then, and only when it is installed) and drives the backend
through joblib's backend protocol, which it speaks.

What joblib's own ``Parallel`` does for such a backend and the protocol does
not say, :class:`JoblibBackendFactory` does: it sets the backend's nesting
level, and brings a task's error back with its own type and the worker's
traceback on every engine. Each batch runs inside :class:`CapturedBatch`,
which returns an error as a value (its pickled form, as joblet's own workers
send it), because engines re-wrap what escapes a task: Spark into a
``PythonException`` holding only text, joblib's task wrapper into an
``_ExceptionWithTraceback`` that joblib 1.6 itself fails to read from
joblibspark. The parent raises it again from ``retrieve_result_callback``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any

from ._executor._remote_errors import rebuild_error, summarize_error

__all__ = [
    "CapturedBatch",
    "JoblibBackendFactory",
    "TaskFailure",
    "joblib_backend_factory",
    "joblib_backend_names",
]


def _joblib_registry() -> dict[str, Any]:
    """joblib's backend registry, or {} when joblib is not installed."""
    module: Any = sys.modules.get("joblib.parallel")
    if module is None:
        if importlib.util.find_spec("joblib") is None:
            return {}
        module = importlib.import_module("joblib.parallel")
    backends = getattr(module, "BACKENDS", None)
    return backends if isinstance(backends, dict) else {}


def joblib_backend_names() -> set[str]:
    """The names registered with joblib, when joblib is already imported.

    For messages only: listing never imports joblib.
    """
    module = sys.modules.get("joblib.parallel")
    backends = getattr(module, "BACKENDS", None) if module is not None else None
    return set(backends) if isinstance(backends, dict) else set()


def joblib_backend_factory(name: str) -> JoblibBackendFactory | None:
    """A factory for the backend registered with joblib as ``name``, or None."""
    factory = _joblib_registry().get(name)
    if factory is None or not callable(factory):
        return None
    return JoblibBackendFactory(name, factory)


class TaskFailure:
    """A batch's error, carried back as a value (see :func:`summarize_error`)."""

    __slots__ = ("summary",)

    def __init__(self, summary: tuple[Any, ...]) -> None:
        self.summary = summary

    def __reduce__(self) -> tuple[Any, ...]:
        return (TaskFailure, (self.summary,))


class CapturedBatch:
    """A batch whose error comes back as a :class:`TaskFailure` value.

    Everything else (``len``, attributes the backend reads) is the batch's.
    """

    def __init__(self, batch: Any) -> None:
        self.batch = batch

    def __call__(self) -> Any:
        try:
            return self.batch()
        except Exception as error:
            return TaskFailure(summarize_error(error))

    def __len__(self) -> int:
        return len(self.batch)

    def __getattr__(self, name: str) -> Any:
        if name == "batch":  # not set yet: unpickling
            raise AttributeError(name)
        return getattr(self.batch, name)


def _as_raised(result: Any) -> Any:
    """``result``, or raise the task error that came back in its place."""
    if isinstance(result, TaskFailure):
        raise rebuild_error(result.summary)
    if type(result).__name__ == "_ExceptionWithTraceback" and hasattr(result, "exc"):
        # joblib's task wrapper caught it in the parent: joblib's own rebuild
        rebuild, arguments = result.__reduce__()
        raise rebuild(*arguments)
    return result


class JoblibBackendFactory:
    """Makes a backend registered with joblib, ready for joblet's Parallel.

    Parameters
    ----------
    name : str
        The name it was registered under with joblib.
    factory : callable
        joblib's factory (usually the backend class).
    """

    def __init__(self, name: str, factory: Callable[..., Any]) -> None:
        self.name = name
        self.factory = factory

    def __call__(self, **backend_params: Any) -> Any:
        backend = self.factory(**backend_params)
        if getattr(backend, "nesting_level", None) is None:
            backend.nesting_level = 0  # joblib's Parallel sets it on backends it makes
        for method in ("retrieve_result_callback", "retrieve_result"):
            original = getattr(backend, method, None)
            if original is not None:
                setattr(backend, method, _unwrapping(original))
        for method in ("submit", "apply_async"):
            original = getattr(backend, method, None)
            if original is not None:
                setattr(backend, method, _capturing(original))
        return backend

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.factory!r})"


def _capturing(method: Callable[..., Any]) -> Callable[..., Any]:
    def submit(func: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(func, CapturedBatch):  # submit may call apply_async
            func = CapturedBatch(func)
        return method(func, *args, **kwargs)

    return submit


def _unwrapping(method: Callable[..., Any]) -> Callable[..., Any]:
    def retrieve(*args: Any, **kwargs: Any) -> Any:
        return _as_raised(method(*args, **kwargs))

    return retrieve
