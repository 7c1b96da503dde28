"""Real dask clusters for the backend tests, started once per module, and a
session check that nothing joblet started is left running once they end."""

from __future__ import annotations

import gc
import time

import pytest
from joblet_test_helpers import leftover_children, leftover_threads


def leftovers() -> list[str]:
    """joblet's threads still alive, and this process's children (the
    clusters' processes included) but those that are not joblet's."""
    return [f"thread {name}" for name in leftover_threads()] + [
        f"process {child}" for child in leftover_children()
    ]


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
