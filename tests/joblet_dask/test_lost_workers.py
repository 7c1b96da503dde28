"""Tasks that kill their dask worker, a cluster that loses every worker, and
results that cannot be sent back: each call returns (results in place or a
clear error) within 30 s, never hangs."""

from __future__ import annotations

import os
import threading
import time

import pytest

from joblet_dask import ClusterLostError
from joblet_parallel import (
    Parallel,
    ResultPicklingError,
    delayed,
    parallel_config,
)

pytestmark = pytest.mark.timeout(90)


def kill_if(i, killers):
    if i in killers:
        os._exit(1)
    time.sleep(0.05)
    return i


def sleep_then(i, seconds):
    time.sleep(seconds)
    return i


def unpicklable_at(i, bad):
    return threading.Lock() if i == bad else i


@pytest.fixture
def own_cluster():
    """A cluster of 2 worker processes that these tests may break; a task is
    tried on 2 workers before dask gives up (4 by default), to keep them short."""
    import dask
    from dask.distributed import Client, LocalCluster

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield cluster, client


def test_a_cluster_that_loses_every_worker_fails_the_call_clearly(own_cluster):
    cluster, _ = own_cluster
    threading.Timer(1.0, cluster.scale, (0,)).start()
    start = time.monotonic()
    with (
        parallel_config(backend="dask", wait_for_workers_timeout=3),
        pytest.raises(ClusterLostError, match="no worker left") as info,
    ):
        Parallel(n_jobs=2)(delayed(sleep_then)(i, 3) for i in range(4))
    assert time.monotonic() - start < 30
    assert "wait_for_workers_timeout" in str(info.value)


def test_killers_with_retries_return_within_30_s(own_cluster):
    start = time.monotonic()
    with (
        parallel_config(backend="dask", wait_for_workers_timeout=5),
        pytest.raises(Exception) as info,  # noqa: PT011 - which one is checked below
    ):
        Parallel(n_jobs=2, retries=1)(delayed(kill_if)(i, {1}) for i in range(4))
    assert time.monotonic() - start < 30
    error = info.value
    lost = "no worker left" in str(error)
    assert type(error).__name__ == "KilledWorker" or lost, repr(error)
    if not lost:  # the task was sent again once, as retries=1 asks
        assert "failed after 2 attempts" in "".join(getattr(error, "__notes__", []))


def test_two_killers_with_return_exceptions_return_within_30_s(own_cluster):
    start = time.monotonic()
    with parallel_config(backend="dask", wait_for_workers_timeout=5):
        out = Parallel(n_jobs=2, return_exceptions=True)(
            delayed(kill_if)(i, {1, 2}) for i in range(4)
        )
    assert time.monotonic() - start < 30
    assert len(out) == 4
    assert isinstance(out[1], BaseException)
    assert isinstance(out[2], BaseException)
    # a healthy task is in place, or lost with a worker killed beside it
    assert out[0] == 0 or isinstance(out[0], BaseException)


def test_a_single_thread_cluster_still_runs_the_tasks_on_it(own_cluster):
    # n_jobs=1 (one worker thread left, or asked for) must not run the tasks in
    # this process: a task that kills its worker would kill the caller.
    with parallel_config(backend="dask"):
        pids = Parallel(n_jobs=1)(delayed(os.getpid)() for _ in range(2))
    assert os.getpid() not in pids


def test_an_unpicklable_result_takes_its_place_on_dask(process_client):
    with parallel_config(backend="dask"):
        out = Parallel(return_exceptions=True, batch_size=2)(
            delayed(unpicklable_at)(i, 2) for i in range(5)
        )
    assert [out[i] for i in (0, 1, 3, 4)] == [0, 1, 3, 4]
    assert isinstance(out[2], ResultPicklingError)
    assert "lock" in str(out[2])
