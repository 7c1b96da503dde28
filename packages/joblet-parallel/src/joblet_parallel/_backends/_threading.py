"""The threading backend: a thread pool in this process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from ._base import ParallelBackendBase
from ._one_pool import _OnePoolBackend
from ._thread_limits import (
    BLAS_VARIABLES,
    OPENMP_VARIABLES,
    PROCESS_BLAS,
    limit_openmp_here,
    thread_share,
)


class ThreadingBackend(_OnePoolBackend):
    """A pool of threads in this process.

    Very low overhead; useful when the work releases the GIL (NumPy, I/O, compiled
    extensions) or needs shared memory (``require='sharedmem'``). Batches hold one
    task each.

    While a call runs on ``n_jobs`` threads, BLAS and OpenMP pools are limited
    to ``cpu_count() // n_jobs`` threads (or ``inner_max_num_threads``) when
    threadpoolctl is installed; see :mod:`._thread_limits`.
    """

    uses_threads = True
    supports_sharedmem = True
    supports_timeout = True
    supports_retrieve_callback = True
    supports_return_generator = True
    supports_inner_max_num_threads = True
    per_call_state: ClassVar[dict[str, Any]] = {
        **_OnePoolBackend.per_call_state,
        "_blas_request": None,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The BLAS share this instance's running call requested, if any.
        self._blas_request: int | None = None

    def _new_pool(self, n_jobs: int) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        share = thread_share(n_jobs, self.inner_max_num_threads, OPENMP_VARIABLES)
        if share is None:
            return ThreadPoolExecutor(n_jobs, thread_name_prefix="joblet-thread")
        return ThreadPoolExecutor(
            n_jobs,
            thread_name_prefix="joblet-thread",
            initializer=limit_openmp_here,
            initargs=(share,),
        )

    def start_call(self) -> None:
        """Limit this process's BLAS pools while the call runs."""
        self._release_blas()  # a call aborted without stop_call
        share = thread_share(
            self._pool_size, self.inner_max_num_threads, BLAS_VARIABLES
        )
        if share is not None and self._pool is not None:
            PROCESS_BLAS.enter(share)
            self._blas_request = share

    def stop_call(self) -> None:
        self._release_blas()

    def _release_blas(self) -> None:
        request, self._blas_request = self._blas_request, None
        if request is not None:
            PROCESS_BLAS.leave(request)

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        future = self._pool.submit(func)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def get_nested_backend(self) -> tuple[ParallelBackendBase, int | None]:
        """As joblib: a call inside a task of a top-level thread pool gets
        threads of its own (its ``n_jobs``, uncapped); deeper calls run
        sequentially."""
        level = (self.nesting_level or 0) + 1
        if level > 1:
            return super().get_nested_backend()
        return ThreadingBackend(
            nesting_level=level, inner_max_num_threads=self.inner_max_num_threads
        ), None

    def abort_everything(self, ensure_ready: bool = True) -> None:
        # Threads cannot be killed: queued batches are cancelled, running ones end.
        self._release_blas()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        super().abort_everything(ensure_ready)

    def terminate(self) -> None:
        self._release_blas()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
