"""The threading backend: a thread pool in this process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._base import ParallelBackendBase
from ._one_pool import _OnePoolBackend


class ThreadingBackend(_OnePoolBackend):
    """A pool of threads in this process.

    Very low overhead; useful when the work releases the GIL (NumPy, I/O, compiled
    extensions) or needs shared memory (``require='sharedmem'``). Batches hold one
    task each.
    """

    uses_threads = True
    supports_sharedmem = True
    supports_timeout = True
    supports_retrieve_callback = True
    supports_return_generator = True

    def _new_pool(self, n_jobs: int) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        return ThreadPoolExecutor(n_jobs, thread_name_prefix="joblet-thread")

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
        return ThreadingBackend(nesting_level=level), None

    def abort_everything(self, ensure_ready: bool = True) -> None:
        # Threads cannot be killed: queued batches are cancelled, running ones end.
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        super().abort_everything(ensure_ready)

    def terminate(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
