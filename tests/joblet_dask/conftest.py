"""Real dask clusters for the backend tests, started once per module."""

from __future__ import annotations

import pytest


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
