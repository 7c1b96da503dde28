"""BLAS and OpenMP thread limits for backends whose workers are threads.

Process workers get their limits from environment variables at start
(:meth:`ParallelBackendBase._prepare_worker_env`). Threads of this process
cannot: the libraries are loaded already, so their pools are resized through
threadpoolctl, and the two kinds of pools differ:

* a BLAS pool (OpenBLAS with pthreads, MKL, BLIS) has one thread count for the
  whole process: a limit set from any thread is seen by every thread. Several
  calls may run at once (nested calls, request threads), so one object,
  :data:`PROCESS_BLAS`, holds the active calls' requests, applies the smallest
  and, when the last call leaves, puts back the count it found when the first
  came in;
* an OpenMP count is per thread: each worker thread lowers its own when it
  starts (:func:`limit_openmp_here`) and keeps it until the pool ends.

A limit only ever lowers a count: a user's ``threadpool_limits`` around the
call (or a library started with fewer threads) wins. threadpoolctl is
optional; without it the pools are left as they are.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from .._cpu import cpu_count

__all__ = ["PROCESS_BLAS", "ProcessBlasLimit", "limit_openmp_here", "thread_share"]

#: Variables that size the BLAS pools when a library loads: when one is set,
#: the user chose, and the BLAS pools are left as the environment made them.
BLAS_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
OPENMP_VARIABLES = ("OMP_NUM_THREADS",)


def thread_share(
    n_jobs: int, explicit: int | None, variables: tuple[str, ...]
) -> int | None:
    """The thread count each of ``n_jobs`` worker threads' pools may use.

    ``explicit`` (``inner_max_num_threads``) when given; None (do not limit)
    when one of ``variables`` is set in the environment, as process workers
    keep the environment's value; else this process's CPUs shared out.
    """
    if explicit is not None:
        return max(1, explicit)
    if any(os.environ.get(name) for name in variables):
        return None
    return max(1, cpu_count() // max(n_jobs, 1))


_scan_lock = threading.Lock()
_last_scan: list[Any] = []  # [controller, len(sys.modules) when made]


def _new_controller() -> Any:
    """A threadpoolctl controller of the libraries loaded now, or None.

    Made again only when modules were imported since the last one (a native
    library comes with an import): making one walks every loaded shared
    object, which cost a threading call milliseconds when done at each call.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    with _scan_lock:
        if not _last_scan or _last_scan[1] != len(sys.modules):
            _last_scan[:] = [ThreadpoolController(), len(sys.modules)]
        return _last_scan[0]


def _set_count(library: Any, count: int) -> None:
    """Set ``library``'s thread count from this thread, without keeping it.

    threadpoolctl 3.8+ lets one thread control a process-wide pool: the first
    to set it, until its ``threadpool_limits`` end; a set from any other thread
    does nothing. A budget's sets happen in whichever caller's thread enters
    or leaves, so each takes control for the set only, as a
    ``threadpool_limits`` block would, and gives it back; when a user's
    ``threadpool_limits`` in another thread holds control, the set does
    nothing and their limit stays.
    """
    # Not in threadpoolctl's documented API: absent before 3.8, where any
    # thread's set applies. The library came from threadpoolctl: it is loaded.
    threadpoolctl = sys.modules.get("threadpoolctl")
    ownership = getattr(threadpoolctl, "CONTROLLING_THREAD_OWNERSHIP", None)
    if ownership is None:
        library.set_num_threads(count)
        return
    ownership.increment()
    try:
        library.set_num_threads(count)
    finally:
        ownership.decrement()


class ProcessBlasLimit:
    """The process-wide BLAS thread count while thread-worker calls run.

    :meth:`enter` at the start of a call, :meth:`leave` at its end, each with
    the call's share. While requests are active, every BLAS library's count
    is the smallest request, never more than the count it had when the first
    request came in. When the last request leaves, each library gets that
    count back, unless something else (a user's ``threadpool_limits``)
    changed it meanwhile: then it is left as they set it.

    Parameters
    ----------
    new_controller : callable, optional
        Returns a threadpoolctl ``ThreadpoolController`` (or None when
        threadpoolctl is missing); replaced in tests.
    """

    def __init__(self, new_controller: Callable[[], Any] = _new_controller) -> None:
        self._new_controller = new_controller
        self._lock = threading.Lock()
        self._requests: list[int] = []
        # (library controller, count found at the first request, count we set)
        self._libraries: list[list[Any]] = []

    def enter(self, limit: int) -> None:
        """Add a request for at most ``limit`` BLAS threads."""
        with self._lock:
            if not self._requests:
                # Counts read now: a user may have changed them between calls.
                controller = self._new_controller()
                blas = [] if controller is None else controller.select(user_api="blas")
                self._libraries = [
                    [library, library.num_threads, None]
                    for library in getattr(blas, "lib_controllers", ())
                ]
            self._requests.append(limit)
            self._apply()

    def leave(self, limit: int) -> None:
        """Remove a request made with :meth:`enter`."""
        with self._lock:
            self._requests.remove(limit)
            if self._requests:
                self._apply()
                return
            for library, original, ours in self._libraries:
                if ours not in (None, original) and library.num_threads == ours:
                    _set_count(library, original)
            self._libraries = []

    def active(self) -> int:
        """How many requests are active."""
        with self._lock:
            return len(self._requests)

    def _apply(self) -> None:
        wanted = min(self._requests)
        for entry in self._libraries:
            library, original, _ = entry
            count = min(wanted, original)
            if library.num_threads != count:
                _set_count(library, count)
            entry[2] = count


#: The one budget of this process.
PROCESS_BLAS = ProcessBlasLimit()


def limit_openmp_here(limit: int) -> None:
    """Lower the OpenMP thread count of the calling thread to ``limit``.

    Run by each worker thread as it starts: an OpenMP count belongs to one
    thread, so it is set where the tasks run, and kept until the thread ends
    with its pool. Never raises a count set lower.
    """
    controller = _new_controller()
    if controller is None:
        return
    for library in controller.select(user_api="openmp").lib_controllers:
        if library.num_threads > limit:
            library.set_num_threads(limit)
