"""A Parallel call inside a task of a thread worker gets threads of its own, as
in joblib 1.6; one level deeper runs sequentially."""

from __future__ import annotations

import threading

import pytest

from joblet_parallel import Parallel, delayed

pytestmark = pytest.mark.timeout(60)


def inner_threads(barrier):
    # both inner tasks wait for each other: only two threads can pass
    barrier.wait(timeout=10)
    return threading.current_thread().name


def outer(n_jobs):
    barrier = threading.Barrier(2)
    parallel = Parallel(n_jobs=n_jobs)
    names = parallel(delayed(inner_threads)(barrier) for _ in range(2))
    return type(parallel._backend).__name__, parallel.n_jobs, len(set(names))


def deeper():
    parallel = Parallel(n_jobs=2)
    parallel(delayed(abs)(i) for i in range(2))
    return type(parallel._backend).__name__


def outer_of_deeper():
    return Parallel(n_jobs=2)(delayed(deeper)() for _ in range(1))[0]


def test_a_call_inside_a_thread_worker_runs_on_its_own_threads():
    [(backend, n_jobs, n_threads)] = Parallel(n_jobs=2, backend="threading")(
        delayed(outer)(2) for _ in range(1)
    )
    assert (backend, n_jobs, n_threads) == ("ThreadingBackend", 2, 2)


def test_as_joblib():
    joblib = pytest.importorskip("joblib")

    def kind(lib):
        return lib.Parallel(n_jobs=2, backend="threading")(
            lib.delayed(lambda: type(lib.Parallel(n_jobs=2)._backend).__name__)()
            for _ in range(1)
        )

    assert kind(joblib) == ["ThreadingBackend"]
    import joblet_parallel

    assert kind(joblet_parallel) == ["ThreadingBackend"]


def test_a_call_two_levels_down_runs_sequentially():
    assert Parallel(n_jobs=2, backend="threading")(
        delayed(outer_of_deeper)() for _ in range(1)
    ) == ["SequentialBackend"]
