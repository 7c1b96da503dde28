"""The dask backend of joblet Parallel, against real dask clusters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from joblet_dask import DaskDistributedBackend
from joblet_parallel import (
    Parallel,
    RemoteTraceback,
    delayed,
    parallel_backend,
    parallel_config,
)

pytestmark = pytest.mark.timeout(120)


def long_running_function(i):
    time.sleep(0.1)
    return i


def square(x):
    return x * x


def fail_on(value, bad):
    if value == bad:
        raise ZeroDivisionError(f"cannot use {value}")
    time.sleep(0.01)
    return value


def test_joblib_013_dask_example_runs_on_the_dask_backend(thread_client, capsys):
    with parallel_backend("dask"):
        results = Parallel(verbose=100)(
            delayed(long_running_function)(i) for i in range(10)
        )
    assert results == list(range(10))
    out = capsys.readouterr().out  # verbose >= 50 prints to stdout
    assert (
        "[Parallel(n_jobs=-1)]: Using backend 'dask' with 2 concurrent workers." in out
    )
    assert "Done  10 out of  10" in out


@pytest.mark.parametrize("clients", ["process_client", "thread_client"])
def test_parallel_config_dask_gives_ordered_results(clients, request):
    request.getfixturevalue(clients)
    with parallel_config("dask"):
        assert Parallel()(delayed(square)(i) for i in range(50)) == [
            i * i for i in range(50)
        ]


def test_n_jobs_minus_one_is_every_worker_thread(process_client):
    backend = DaskDistributedBackend(client=process_client)
    assert backend.effective_n_jobs(-1) == 2
    assert backend.effective_n_jobs(-2) == 1
    assert backend.effective_n_jobs(5) == 5
    # joblet's one message for it, with the advice
    with pytest.raises(ValueError, match="n_jobs == 0 has no meaning; use 1"):
        backend.effective_n_jobs(0)


@pytest.mark.parametrize("return_as", ["generator", "generator_unordered"])
def test_generators(process_client, return_as):
    with parallel_config("dask"):
        out = Parallel(return_as=return_as)(delayed(square)(i) for i in range(20))
        assert not isinstance(out, list)
        results = list(out)
    if return_as == "generator":
        assert results == [i * i for i in range(20)]
    else:
        assert sorted(results) == [i * i for i in range(20)]


def test_errors_keep_their_type_and_the_worker_traceback(process_client):
    with (
        parallel_config("dask"),
        pytest.raises(ZeroDivisionError, match="cannot use 3") as info,
    ):
        Parallel(batch_size=1)(delayed(fail_on)(i, 3) for i in range(20))
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "fail_on" in str(cause)


def test_timeout_raises_timeout_error(process_client):
    with parallel_config("dask"), pytest.raises(TimeoutError):
        Parallel(timeout=0.5)(delayed(time.sleep)(3) for _ in range(2))


def test_nested_parallel_inside_tasks_does_not_deadlock(process_client):
    def outer(i):
        return sum(Parallel()(delayed(square)(j) for j in range(i)))

    with parallel_config("dask"):
        # 4 outer tasks on 2 worker threads, each waiting on inner tasks: only
        # works if waiting tasks give their thread back (secede/rejoin).
        results = Parallel(batch_size=1)(delayed(outer)(i) for i in range(4))
    assert results == [sum(j * j for j in range(i)) for i in range(4)]


def test_worker_killed_once_is_resubmitted(process_client, tmp_path):
    flag = tmp_path / "killed-once"

    def die_once(i):
        if i == 0 and not flag.exists():
            flag.touch()
            os._exit(1)
        return i

    with parallel_config("dask"):
        assert Parallel(batch_size=1)(delayed(die_once)(i) for i in range(4)) == [
            0,
            1,
            2,
            3,
        ]
    assert flag.exists()


def test_no_client_gives_a_clear_error():
    code = textwrap.dedent(
        """
        from joblet_parallel import Parallel, delayed, parallel_config
        try:
            with parallel_config("dask"):
                Parallel()(delayed(abs)(-1) for _ in range(2))
        except ValueError as error:
            print("ERROR:", error)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "ERROR: the 'dask' backend runs on a dask.distributed client" in out
    assert "Client()" in out


def test_scatter_argument_must_be_a_list(thread_client):
    with pytest.raises(TypeError, match="scatter must be a list"):
        DaskDistributedBackend(scatter=3)


def test_waiting_for_workers_times_out_with_advice():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        backend = DaskDistributedBackend(client=client, wait_for_workers_timeout=0.5)
        with pytest.raises(TimeoutError, match="wait_for_workers_timeout=1"):
            backend.effective_n_jobs(-1)


def test_task_that_always_kills_its_worker_raises_instead_of_hanging():
    import dask
    from dask.distributed import Client, LocalCluster
    from distributed.scheduler import KilledWorker

    def always_die(_):
        os._exit(1)

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=1, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
        parallel_config("dask", client=client),
        pytest.raises(KilledWorker),
    ):
        Parallel(n_jobs=2)(delayed(always_die)(i) for i in range(2))  # not run inline


def test_batch_size_starts_small_again_on_the_next_call(process_client):
    with parallel_config("dask"):
        parallel = Parallel()
        parallel(delayed(square)(i) for i in range(5_000))
    assert parallel._backend._effective_batch_size == 1


def worker_address(_):
    from distributed import get_worker

    return get_worker().address


def test_workers_option_reaches_the_scheduler(process_client):
    # A loaded machine can be slow to bring (or bring back) the second worker.
    process_client.wait_for_workers(2, timeout=120)
    _, second = sorted(process_client.nthreads())
    with parallel_config("dask", client=process_client, workers=[second]):
        where = Parallel()(delayed(worker_address)(i) for i in range(8))
    assert set(where) == {second}


def test_resources_option_reaches_the_scheduler(thread_client):
    # No worker has a 'GPU' resource: restricted batches cannot run, so the call
    # times out; without the option they would run at once.
    with (
        parallel_config("dask", client=thread_client, resources={"GPU": 1}),
        pytest.raises(TimeoutError),
    ):
        Parallel(timeout=2)(delayed(square)(i) for i in range(2))
    with parallel_config("dask", client=thread_client):
        assert Parallel()(delayed(square)(i) for i in range(2)) == [0, 1]


def test_adaptive_cluster_starting_at_zero_workers_scales_up():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        cluster.adapt(minimum=0, maximum=1, interval="200ms")
        with (
            Client(cluster) as client,
            parallel_config("dask", client=client, wait_for_workers_timeout=60),
        ):
            assert Parallel()(delayed(square)(i) for i in range(6)) == [
                i * i for i in range(6)
            ]


def test_dask_is_listed_and_suggested_among_backend_names():
    from joblet_parallel import Parallel, UnknownBackendError

    with pytest.raises(UnknownBackendError) as info:
        Parallel(backend="dasc")
    assert "did you mean 'dask'?" in str(info.value)
    assert "'dask'" in str(info.value).split("known:")[1]


def test_submit_refuses_what_is_not_a_batch_of_parallel(thread_client):
    backend = DaskDistributedBackend(client=thread_client)
    with pytest.raises(TypeError, match=r"joblet_parallel\.Batch"):
        backend.submit(lambda: [1])
