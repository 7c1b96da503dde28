"""Our process executor: reusable pools of worker processes (standard library,
cloudpickle for callables).

``get_pool`` returns the pool for the given worker settings, resized as needed,
and counts its user until ``release_pool``. One set of workers is kept: a pool
with other settings is shut down as soon as no call uses it any more, but never
while a call (possibly in another thread) still submits to it.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from joblet_hash.lazy import lazy_attributes

from ._job import CancelledBatchError, Job
from ._output import OutputSink

if TYPE_CHECKING:
    from ._pool import WorkerPool

__all__ = [
    "CancelledBatchError",
    "Job",
    "OutputSink",
    "WorkerPool",
    "get_pool",
    "release_pool",
    "shutdown_pool",
]


# The pool's module is the parent's: a worker process (whose code is in this
# package too) never loads it.
__getattr__ = lazy_attributes(__name__, {"WorkerPool": "._pool"})


_lock = threading.Lock()
_pools: dict[Any, WorkerPool] = {}
_users: dict[int, int] = {}  # id(pool) -> number of calls using it
_registered = False


def get_pool(
    n_workers: int,
    env: dict[str, str],
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
    idle_timeout: float | None = 300.0,
    max_memory_growth: int | None = None,
    memory_check_interval: float = 0.0,
    max_tasks_per_child: int | None = None,
) -> WorkerPool:
    """The shared pool with these settings and ``n_workers`` workers.

    The caller uses the pool until it calls :func:`release_pool` with it.
    """
    global _registered
    init_payload = None
    if initializer is not None:
        import cloudpickle

        init_payload = cloudpickle.dumps((initializer, initargs))
    key = (
        tuple(sorted(env.items())),
        init_payload,
        idle_timeout,
        max_memory_growth,
        memory_check_interval,
        max_tasks_per_child,
    )
    from ._pool import WorkerPool

    with _lock:
        pool = _pools.get(key)
        if pool is not None and (pool.pid != os.getpid() or pool.closed):
            del _pools[key]  # inherited through fork, or shut down
            _users.pop(id(pool), None)
            pool = None
        if pool is None:
            pool = WorkerPool(
                key,
                n_workers,
                env,
                init_payload,
                idle_timeout,
                max_memory_growth,
                memory_check_interval,
                max_tasks_per_child,
            )
            _pools[key] = pool
            if not _registered:
                atexit.register(shutdown_pool)
                _registered = True
        else:
            pool.resize(n_workers)
        _users[id(pool)] = _users.get(id(pool), 0) + 1
        _shutdown_unused(keep=pool)
        return pool


def release_pool(pool: WorkerPool) -> None:
    """The caller of :func:`get_pool` no longer uses ``pool``."""
    with _lock:
        count = _users.get(id(pool), 0) - 1
        if count > 0:
            _users[id(pool)] = count
            return
        _users.pop(id(pool), None)
        if _pools.get(pool.key) is not pool:
            return
        # Another call moved to other settings while this one ran: let it go now.
        if any(other is not pool for other in _pools.values()):
            del _pools[pool.key]
            if pool.pid == os.getpid():
                pool.shutdown(kill=False, wait=None)


def _shutdown_unused(keep: WorkerPool) -> None:
    """Shut down the pools no call uses (called with ``_lock`` held)."""
    for key, pool in list(_pools.items()):
        if pool is keep or _users.get(id(pool), 0) > 0:
            continue
        del _pools[key]
        if pool.pid == os.getpid() and not pool.closed:
            pool.shutdown(kill=False, wait=None)


def shutdown_pool(kill: bool = True) -> None:
    """Stop every pool's workers (also run at interpreter exit)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
        _users.clear()
    for pool in pools:
        if pool.pid == os.getpid():
            pool.shutdown(kill=kill, wait=1.0)
