"""Every Parallel example of joblib 0.13's documentation (sections 2.4 and 3.2), with joblet_parallel."""

from __future__ import annotations

import sys
import time
from heapq import nlargest
from math import modf, sqrt
from operator import neg

import cloudpickle
import pytest

from joblet_parallel import (
    Parallel,
    ParallelBackendBase,
    RemoteTraceback,
    delayed,
    parallel_backend,
    register_parallel_backend,
    wrap_non_picklable_objects,
)

# Worker processes cannot import this test module by name: ship it by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)

SQRTS = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]


def test_common_usage():
    assert [sqrt(i**2) for i in range(10)] == SQRTS
    assert Parallel(n_jobs=2)(delayed(sqrt)(i**2) for i in range(10)) == SQRTS


def test_prefer_threads_and_parallel_backend():
    assert (
        Parallel(n_jobs=2, prefer="threads")(delayed(sqrt)(i**2) for i in range(10))
        == SQRTS
    )
    with parallel_backend("threading", n_jobs=2):
        assert Parallel()(delayed(sqrt)(i**2) for i in range(10)) == SQRTS


def test_shared_memory_semantics():
    shared_set = set()

    def collect(x):
        shared_set.add(x)

    result = Parallel(n_jobs=2, require="sharedmem")(
        delayed(collect)(i) for i in range(5)
    )
    assert result == [None, None, None, None, None]
    assert sorted(shared_set) == [0, 1, 2, 3, 4]


def test_reusing_a_pool_of_workers():
    with Parallel(n_jobs=2) as parallel:
        accumulator = 0.0
        n_iter = 0
        while accumulator < 1000:
            results = parallel(delayed(sqrt)(accumulator + i**2) for i in range(5))
            accumulator += sum(results)  # synchronization barrier
            n_iter += 1
    assert (round(accumulator, 3), n_iter) == (1136.597, 14)


def test_reference_simple_and_reshaping():
    assert Parallel(n_jobs=1)(delayed(sqrt)(i**2) for i in range(10)) == SQRTS
    r = Parallel(n_jobs=1)(delayed(modf)(i / 2.0) for i in range(10))
    res, i = zip(*r)  # noqa: B905 - joblib 0.13's example, verbatim
    assert res == (0.0, 0.5, 0.0, 0.5, 0.0, 0.5, 0.0, 0.5, 0.0, 0.5)
    assert i == (0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0)


def test_progress_meter(capsys):
    Parallel(n_jobs=2, verbose=10)(delayed(time.sleep)(0.05) for _ in range(10))
    err = capsys.readouterr().err
    assert "[Parallel(n_jobs=2)]: Done   1 tasks      | elapsed:" in err
    assert "[Parallel(n_jobs=2)]: Done  10 out of  10 | elapsed:" in err
    assert err.rstrip().endswith("finished")


def test_traceback_example():
    with pytest.raises(TypeError) as info:
        Parallel(n_jobs=2)(delayed(nlargest)(2, n) for n in (range(4), "abcde", 3))
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "heapq.py" in cause.text
    assert "in nlargest" in cause.text


def test_pre_dispatch_producer_consumer(capsys):
    def producer():
        for i in range(6):
            print(f"Produced {i}")
            yield i

    out = Parallel(n_jobs=2, verbose=100, pre_dispatch="1.5*n_jobs")(
        delayed(sqrt)(i) for i in producer()
    )
    assert out == [sqrt(i) for i in range(6)]
    lines = [
        line
        for line in capsys.readouterr().out.splitlines()
        if "Using backend" not in line
    ]
    produced = [line for line in lines if line.startswith("Produced")]
    assert produced == [f"Produced {i}" for i in range(6)]
    # The input is consumed lazily: pre_dispatch (3) items go out first, the rest
    # only after results came back (auto-batching may then take several at once).
    # Whether the first "Done" is printed before "Produced 2" depends on timing.
    first_done = next(n for n, line in enumerate(lines) if "Done" in line)
    assert lines.index("Produced 3") > first_done
    assert lines[-1].startswith("[Parallel(n_jobs=2)]: Done   6 out of   6")
    assert lines[-1].endswith("finished")


def test_parallel_backend_reference_example(capsys):
    with parallel_backend("threading"):
        print(Parallel()(delayed(neg)(i + 1) for i in range(5)))
    assert capsys.readouterr().out == "[-1, -2, -3, -4, -5]\n"


class MyCustomBackend(ParallelBackendBase):
    """joblib 0.13's custom backend with mandatory constructor parameters."""

    supports_retrieve_callback = True

    def __init__(self, endpoint, api_key, **kwargs):
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.api_key = api_key

    def effective_n_jobs(self, n_jobs):
        return 2

    def submit(self, func, callback=None):
        from concurrent.futures import Future

        future = Future()
        future.set_result(func())
        if callback is not None:
            callback(future)
        return future


def test_custom_backend_with_parameters():
    register_parallel_backend("custom", MyCustomBackend)
    with parallel_backend("custom", endpoint="http://compute", api_key="42") as (
        backend,
        _,
    ):
        assert backend.endpoint == "http://compute"
        assert Parallel()(delayed(neg)(i) for i in range(10)) == [-i for i in range(10)]


def func_async(i, *args):
    return 2 * i


def test_serialization_examples():
    assert Parallel(n_jobs=2)(delayed(func_async)(21) for _ in range(1))[0] == 42
    large_list = list(range(100_000))
    assert Parallel(n_jobs=2)(
        delayed(func_async)(21, large_list) for _ in range(1)
    ) == [42]
    with parallel_backend("multiprocessing"):
        assert Parallel(n_jobs=2)(
            delayed(func_async)(21, large_list) for _ in range(1)
        ) == [42]

    @delayed
    @wrap_non_picklable_objects
    def func_async_wrapped(i, *args):
        return 2 * i

    assert Parallel(n_jobs=2)(func_async_wrapped(21, large_list) for _ in range(1)) == [
        42
    ]


def stochastic_function(max_value):
    import numpy as np

    return np.random.randint(max_value, size=5)


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_random_state_example(backend):
    np = pytest.importorskip("numpy")
    vectors = Parallel(n_jobs=2, backend=backend)(
        delayed(stochastic_function)(10**9) for _ in range(5)
    )
    assert len({tuple(v) for v in np.array(vectors)}) == 5
