"""The layers working together, as ``pip install joblet`` users combine them."""

from __future__ import annotations

import pytest

import joblet

pytestmark = pytest.mark.timeout(180)


def slow_square(x):
    return x * x


@pytest.mark.parametrize("backend", ["loky", "threading", "multiprocessing"])
def test_memory_cached_function_inside_parallel_workers(tmp_path, backend):
    memory = joblet.Memory(tmp_path, verbose=0)
    cached = memory.cache(slow_square)
    first = joblet.Parallel(n_jobs=2, backend=backend)(
        joblet.delayed(cached)(i) for i in range(6)
    )
    assert first == [i * i for i in range(6)]
    # Every entry written by the workers is now a hit in the parent.
    assert all(cached.check_call_in_cache(i) for i in range(6))


def test_memorized_result_travels_to_workers(tmp_path):
    memory = joblet.Memory(tmp_path, verbose=0)
    shelved = memory.cache(slow_square).call_and_shelve(7)
    out = joblet.Parallel(n_jobs=2)(
        joblet.delayed(lambda r: r.get())(shelved) for _ in range(2)
    )
    assert out == [49, 49]


def test_dump_in_workers_load_in_parent(tmp_path):
    paths = joblet.Parallel(n_jobs=2)(
        joblet.delayed(joblet.dump)({"i": i}, tmp_path / f"{i}.joblet")
        for i in range(4)
    )
    assert [joblet.load(p[0]) for p in paths] == [{"i": i} for i in range(4)]


def test_memory_inside_dask_tasks_shares_one_cache(tmp_path):
    distributed = pytest.importorskip("distributed")
    memory = joblet.Memory(tmp_path, verbose=0)
    cached = memory.cache(slow_square)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
        joblet.parallel_config("dask"),
    ):
        assert joblet.Parallel()(joblet.delayed(cached)(i) for i in range(4)) == [
            0,
            1,
            4,
            9,
        ]
    assert all(cached.check_call_in_cache(i) for i in range(4))
