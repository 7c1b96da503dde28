"""Real dask clusters for the backend tests, started once per module, and a
session check that nothing joblet started is left running once they end."""

from __future__ import annotations

import gc
import os
import threading
import time

import pytest

#: Names of the threads joblet-parallel and joblet-dask start.
JOBLET_THREADS = (
    "joblet-thread",
    "joblet-writer",
    "joblet-reader",
    "joblet-watchdog",
    "joblet-rm",
    "joblet-dask-watch",
)
#: Children that are not joblet's: multiprocessing's helpers, kept for the
#: life of this process, and joblib's own reusable executor (tests compare
#: with joblib), which joblib keeps on purpose.
NOT_JOBLETS = (
    "multiprocessing.resource_tracker",
    "multiprocessing.forkserver",
    "joblib.externals.loky",
)


def leftovers() -> list[str]:
    """joblet's threads still alive, and this process's children (the
    clusters' processes included) but those of ``NOT_JOBLETS``."""
    found = [
        f"thread {thread.name}"
        for thread in threading.enumerate()
        if thread.is_alive() and thread.name.startswith(JOBLET_THREADS)
    ]
    try:
        import psutil
    except ImportError:
        return found
    for child in psutil.Process().children(recursive=True):
        try:
            arguments = child.cmdline()
            command = " ".join(arguments)
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:
            continue
        # Python processes only: other tests' servers (SeaweedFS) are not ours
        if not arguments or "python" not in os.path.basename(arguments[0]):
            continue
        if not any(other in command for other in NOT_JOBLETS):
            found.append(f"process {child.pid}: {command[:120]}")
    return found


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running():
    yield
    from joblet_parallel._executor import shutdown_pool

    shutdown_pool()
    deadline = time.monotonic() + 15
    while True:
        gc.collect()
        left = leftovers()
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"the dask tests left these running: {left}"


@pytest.fixture(scope="module")
def process_client():
    """A LocalCluster of 2 worker processes with one thread each."""
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def thread_client():
    """An in-process cluster (Client(processes=False)), as in joblib 0.13's dask example."""
    from dask.distributed import Client

    with Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0"
    ) as client:
        yield client
