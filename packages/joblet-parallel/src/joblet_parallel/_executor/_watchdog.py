"""Per-job time limits: a thread that stops the workers of late jobs."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._pool import WorkerPool


class Watchdog:
    """One thread per pool that stops workers running a job past its time limit.

    It sleeps until the nearest deadline (or until :meth:`wake` says a timed job
    started) and exits when no timed job is left; :meth:`wake` restarts it.
    """

    def __init__(self, pool: WorkerPool) -> None:
        self._pool = pool
        self._event = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """A timed job started (called with the pool's lock held)."""
        self._event.set()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, daemon=True, name="joblet-watchdog"
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._event.clear()
            remaining = self._pool.stop_late_jobs(self._forget_thread)
            if remaining is None:
                return
            self._event.wait(max(0.01, remaining))

    def _forget_thread(self) -> None:
        # Under the pool's lock: a wake() after it starts a new thread.
        self._thread = None
