"""Which instance a call runs on: the configured one, or a copy when it is busy."""

from __future__ import annotations

import copy
import threading
from typing import Any, ClassVar

from ._base import ParallelBackendBase


def is_multiprocessing_context(backend: Any) -> bool:
    """``backend=multiprocessing.get_context(...)``, accepted as joblib does."""
    # Without importing multiprocessing (~30 ms): a context comes from it.
    import sys

    context = sys.modules.get("multiprocessing.context")
    return context is not None and isinstance(backend, context.BaseContext)


class CopiedPerCall:
    """A backend keeping one call's state on itself (its pool, the call's
    jobs): when the instance is busy, another call runs on a copy (see
    :func:`claim_backend`) whose attributes named in :attr:`per_call_state`
    start from the values there (each copied: a set or dict is not shared)."""

    #: The attributes holding one call's state, with their values in a fresh
    #: copy; subclasses adding such state extend it.
    per_call_state: ClassVar[dict[str, Any]] = {"parallel": None, "settings": None}

    def _instance_for_parallel(self) -> Any:
        clone = copy.copy(self)
        fresh = {name: copy.copy(value) for name, value in self.per_call_state.items()}
        vars(clone).update(fresh)
        return clone


_claim_lock = threading.Lock()
_claimed: set[int] = set()  # id() of the built-in backend instances running a call


def claim_backend(backend: ParallelBackendBase) -> ParallelBackendBase:
    """The instance a ``Parallel`` call (or ``with Parallel`` block) runs on.

    The instance itself, so that state kept on the object a user holds (from
    ``with parallel_backend(...) as (backend, n_jobs)``) is seen, as in joblib.
    The built-in pool backends keep per-call state on the instance (the pool, the
    jobs of the call, the memmapping folder): when the instance already runs
    another call (a ``parallel_config`` shared by threads, nested calls in the
    tasks of a thread backend), sharing it would let one call close the other's
    pool or cancel its batches, so that call gets a fresh copy instead. Other
    backends (plug-ins, user classes) are always used as given, as joblib does.
    Give the result back with :func:`release_backend`.
    """
    fresh = getattr(backend, "_instance_for_parallel", None)
    if not callable(fresh):
        return backend
    with _claim_lock:
        if id(backend) not in _claimed:
            _claimed.add(id(backend))
            return backend
    copy_for_call: ParallelBackendBase = fresh()
    return copy_for_call


def release_backend(backend: ParallelBackendBase) -> None:
    """End the use of an instance returned by :func:`claim_backend`."""
    with _claim_lock:
        _claimed.discard(id(backend))
