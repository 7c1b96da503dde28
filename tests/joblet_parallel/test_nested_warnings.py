"""A process-backed call nested where it runs with one job says so, as joblib
1.6 does: inside a task of a thread worker (no processes below threads) and
inside a process worker whose share of the CPUs is one."""

from __future__ import annotations

import os
import sys
import threading
import warnings

import cloudpickle
import pytest

from joblet_parallel import Parallel, cpu_count, delayed

# Worker processes cannot import this test module by name: ship it by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)

PROCESS_BACKENDS = ["loky", "multiprocessing"]


def nested_call(backend: str, n_jobs: int) -> tuple[bool, list[str]]:
    """Whether the nested call ran in its caller (one job), and the warnings
    it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pids = Parallel(n_jobs=n_jobs, backend=backend)(
            delayed(os.getpid)() for _ in range(4)
        )
    return set(pids) == {os.getpid()}, [str(warning.message) for warning in caught]


@pytest.mark.parametrize("inner", PROCESS_BACKENDS)
def test_below_threads_one_job_and_a_warning(inner):
    results = Parallel(n_jobs=2, backend="threading")(
        delayed(nested_call)(inner, 2) for _ in range(2)
    )
    for inline, messages in results:
        assert inline
        assert messages == [
            "Process-backed parallel loops cannot be nested below threads, "
            "setting n_jobs=1"
        ]


@pytest.mark.parametrize("inner", PROCESS_BACKENDS)
def test_one_job_asked_gives_no_warning(inner):
    results = Parallel(n_jobs=2, backend="threading")(
        delayed(nested_call)(inner, 1) for _ in range(2)
    )
    assert results == [(True, []), (True, [])]


def test_a_top_level_call_in_another_thread_is_not_limited():
    results = []
    thread = threading.Thread(target=lambda: results.append(nested_call("loky", 2)))
    thread.start()
    thread.join()
    assert results == [(False, [])]


@pytest.mark.parametrize("inner", PROCESS_BACKENDS)
def test_below_processes_with_a_share_of_one(inner):
    outer_jobs = cpu_count()  # each worker's share of the CPUs is 1
    if outer_jobs < 2:
        pytest.skip("needs 2 CPUs")
    results = Parallel(n_jobs=outer_jobs, backend="loky")(
        delayed(nested_call)(inner, 2) for _ in range(outer_jobs)
    )
    for inline, messages in results:
        assert inline
        assert len(messages) == 1
        assert messages[0].startswith(
            "Process-backed parallel loops cannot be nested below processes"
        )
