"""How many CPUs this process may use, and an ordered, bounded map on a thread pool.

The one home of both facts for every joblet distribution: joblet-hash digests
large buffers on a few threads, joblet-persist compresses and decompresses
chunks on a few threads, and joblet-parallel's ``cpu_count`` starts from
:func:`usable_cpu_count`. joblet-hash is the lowest layer, so the siblings
import this module (``from joblet_hash.threads import ...``); it is not part of
the user API that ``joblet`` re-exports.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # the pool is the caller's; only its type is needed here
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = [
    "MAX_HELPER_THREADS",
    "helper_thread_count",
    "ordered_map",
    "usable_cpu_count",
]

T = TypeVar("T")
R = TypeVar("R")

#: At most this many threads help one call (a digest, a dump, a load): beyond
#: that, memory bandwidth, not CPU, bounds the chunked work.
MAX_HELPER_THREADS = 8


def _cgroup_cpu_limit() -> float | None:
    """CPUs allowed by a cgroup quota (v2 ``cpu.max`` or v1 cfs), None if unlimited."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as handle:
            quota, period = handle.read().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as handle:
            quota_us = int(handle.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as handle:
            period_us = int(handle.read())
        if quota_us > 0 and period_us > 0:
            return quota_us / period_us
    except (OSError, ValueError):
        pass
    return None


def usable_cpu_count() -> int:
    """Number of CPUs this process may run on, at least 1.

    The smaller of the CPUs of this process's affinity mask (all CPUs of the
    machine where the platform has no affinity, or when asking for it fails) and
    the cgroup CPU quota of a container, rounded up.
    """
    count = 0
    if hasattr(os, "sched_getaffinity"):
        try:
            count = len(os.sched_getaffinity(0))
        except OSError:  # some sandboxes refuse the call
            count = 0
    if count <= 0:
        count = os.cpu_count() or 1
    quota = _cgroup_cpu_limit()
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)


def helper_thread_count() -> int:
    """Threads one chunked call uses: the usable CPUs, at most :data:`MAX_HELPER_THREADS`."""
    return min(usable_cpu_count(), MAX_HELPER_THREADS)


def ordered_map(
    func: Callable[[T], R],
    items: Iterable[T],
    threads: int,
    pool: ThreadPoolExecutor | None,
    ahead: int | None = None,
) -> Iterator[R]:
    """``map(func, items)`` on ``pool``, results in order, at most ``ahead`` pending.

    Parameters
    ----------
    func : callable
        Applied to every item, on the pool's threads.
    items : iterable
        Consumed lazily: an item is taken only when fewer than ``ahead`` results
        wait, so chunk copies never pile up in memory.
    threads : int
        How many threads ``pool`` has. With 1 or fewer, or without a pool, every
        item is mapped in the calling thread.
    pool : ThreadPoolExecutor or None
        The caller's pool.
    ahead : int, optional
        The most results pending at once (default ``4 * threads``, and never
        fewer than ``threads``): a window wider than the thread count keeps the
        threads busy while the caller consumes a result or is descheduled on a
        busy machine.

    Yields
    ------
    The results of ``func``, in the order of ``items``. If the caller stops
    early, the pending items that have not started are cancelled.
    """
    if pool is None or threads <= 1:
        for item in items:
            yield func(item)
        return
    limit = 4 * threads if ahead is None else max(ahead, threads)
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
