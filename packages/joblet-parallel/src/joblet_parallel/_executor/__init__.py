"""Our process executor: a reusable pool of worker processes (standard library,
cloudpickle for callables). ``get_pool`` returns the process-wide pool for the
given worker settings, resized or replaced as needed."""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from typing import Any

from ._pool import CancelledBatchError, Job, WorkerPool

__all__ = ["CancelledBatchError", "Job", "WorkerPool", "get_pool", "shutdown_pool"]

_lock = threading.Lock()
_pool: WorkerPool | None = None
_registered = False


def get_pool(
    n_workers: int,
    env: dict[str, str],
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
    idle_timeout: float | None = 300.0,
    max_memory_growth: int | None = None,
    memory_check_interval: float = 1.0,
) -> WorkerPool:
    """The shared pool with these settings and ``n_workers`` workers."""
    global _pool, _registered
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
    )
    with _lock:
        if _pool is not None and (
            _pool.key != key or _pool.pid != os.getpid() or _pool.closed
        ):
            if _pool.pid == os.getpid() and not _pool.closed:
                _pool.shutdown(kill=False, wait=None)
            _pool = None
        if _pool is None:
            _pool = WorkerPool(
                key,
                n_workers,
                env,
                init_payload,
                idle_timeout,
                max_memory_growth,
                memory_check_interval,
            )
            if not _registered:
                atexit.register(shutdown_pool)
                _registered = True
        else:
            _pool.resize(n_workers)
        return _pool


def shutdown_pool(kill: bool = True) -> None:
    """Stop the shared pool's workers (also run at interpreter exit)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None and pool.pid == os.getpid():
        pool.shutdown(kill=kill, wait=1.0)
