"""Watching the cluster during a call: a call whose cluster has no worker left
fails with a clear error instead of waiting forever.

dask keeps a task queued while no worker can run it. A cluster can lose every
worker during a call: the workers were scaled down, or tasks killed them (each
such task is tried on ``distributed.scheduler.allowed-failures + 1`` workers,
and a worker that dies while its nanny is still starting it is not restarted,
which happens under load). Without a watch such a call would wait forever.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

#: Seconds between two looks at the cluster.
POLL_INTERVAL = 0.5


class ClusterLostError(RuntimeError):
    """The dask cluster had no worker for too long while tasks were waiting."""


def lost_message(seconds: float) -> str:
    return (
        f"the dask cluster has had no worker left for {seconds:g} s while tasks of "
        "this call were waiting: its workers were stopped, or tasks killed them "
        "(each such task is tried on several workers, and dask does not restart "
        "a worker that dies while starting). Start workers again, or wait longer "
        "before failing: parallel_config('dask', wait_for_workers_timeout="
        f"{seconds * 2:g})"
    )


class ClusterWatch:
    """A thread that calls ``on_lost(message)`` once the cluster has had no
    worker for ``patience`` seconds; stopped with :meth:`stop`."""

    def __init__(
        self, client: Any, patience: float, on_lost: Callable[[str], None]
    ) -> None:
        self._client = client
        self._patience = patience
        self._on_lost = on_lost
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="joblet-dask-watch", daemon=True
        )
        self._thread.start()

    def _threads(self) -> int | None:
        try:
            threads: int = sum(self._client.nthreads().values())
            return threads
        except Exception:  # the scheduler cannot be reached (closing): no verdict
            return None

    def _run(self) -> None:
        empty_since: float | None = None
        while not self._stopped.wait(POLL_INTERVAL):
            threads = self._threads()
            if threads is None or threads > 0:
                empty_since = None
                continue
            now = time.monotonic()
            if empty_since is None:
                empty_since = now
            elif now - empty_since >= self._patience:
                self._on_lost(lost_message(self._patience))
                return

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
