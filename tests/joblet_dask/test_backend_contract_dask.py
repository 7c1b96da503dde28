"""The backend contract of joblet-parallel's tests, on the dask backend with a
LocalCluster of worker processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from joblet_test_helpers import load_helper

CONTRACT = Path(__file__).parents[1] / "joblet_parallel" / "backend_contract.py"
contract = load_helper(CONTRACT)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def contract_cluster():
    """2 worker processes of one thread; a task that kills its worker fails
    with KilledWorker at once (allowed-failures 0), so that joblet's own
    retries are what is tested, quickly."""
    import dask
    from dask.distributed import Client, LocalCluster

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        # dask pickles the tasks' functions by reference: the workers (also
        # those restarted after a task killed one) import the file by name
        client.upload_file(str(CONTRACT))
        yield client


@pytest.fixture
def contract_case(contract_cluster: Any) -> Any:
    return contract.Case("dask", "dask")


class TestDaskBackendContract(contract.BackendContract):
    """Every behaviour of the contract, on the dask backend."""
