"""Running chunk (de)compression on a few threads, in order, with bounded memory."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_THREADS = 8


def thread_count() -> int:
    """How many threads compress or decompress at once: the usable CPUs, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_THREADS))


def ordered_map(
    func: Callable[[T], R],
    items: Iterable[T],
    threads: int,
    pool: ThreadPoolExecutor | None,
    ahead: int | None = None,
) -> Iterator[R]:
    """``map(func, items)`` on ``pool``, results in order, at most ``ahead`` pending.

    ``ahead`` (default ``4 * threads``) bounds memory; a window wider than the
    thread count keeps the workers busy while the caller writes a result or is
    descheduled on a busy machine.
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
