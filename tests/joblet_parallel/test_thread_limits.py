"""One core budget for the threading backend: while a call runs on ``n_jobs``
threads, the BLAS pools of the process use ``cpu_count() // n_jobs`` threads
(or ``inner_max_num_threads``), never more than they had, and get their count
back when the last call ends, however many calls run at once."""

from __future__ import annotations

import sys
import threading

import pytest

from joblet_parallel import Parallel, delayed, parallel_config
from joblet_parallel._backends import _thread_limits
from joblet_parallel._backends._thread_limits import (
    PROCESS_BLAS,
    ProcessBlasLimit,
    thread_share,
)

pytestmark = pytest.mark.timeout(120)

BLAS_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


# -- the budget object, on fake libraries -------------------------------------
class FakeLibrary:
    def __init__(self, num_threads: int) -> None:
        self.num_threads = num_threads
        self.sets: list[int] = []

    def set_num_threads(self, count: int) -> None:
        self.sets.append(count)
        self.num_threads = count


class FakeController:
    def __init__(self, libraries: list[FakeLibrary]) -> None:
        self.lib_controllers = libraries

    def select(self, user_api: str) -> FakeController:
        assert user_api == "blas"
        return self


def budget_on(*libraries: FakeLibrary) -> ProcessBlasLimit:
    return ProcessBlasLimit(lambda: FakeController(list(libraries)))


def test_the_smallest_active_request_applies_and_the_original_comes_back():
    library = FakeLibrary(8)
    budget = budget_on(library)
    budget.enter(4)
    assert library.num_threads == 4
    budget.enter(2)
    assert library.num_threads == 2
    budget.leave(2)
    assert library.num_threads == 4
    budget.leave(4)
    assert library.num_threads == 8
    assert budget.active() == 0


def test_a_request_never_raises_a_count():
    library = FakeLibrary(1)  # a user's threadpool_limits(1) around the call
    budget = budget_on(library)
    budget.enter(4)
    budget.leave(4)
    assert library.sets == []


def test_a_count_changed_meanwhile_is_left_as_set():
    library = FakeLibrary(8)
    budget = budget_on(library)
    budget.enter(2)
    library.num_threads = 3  # someone else's limit, set during the call
    budget.leave(2)
    assert library.num_threads == 3


def test_without_threadpoolctl_nothing_is_limited():
    budget = ProcessBlasLimit(lambda: None)
    budget.enter(1)
    assert budget.active() == 1
    budget.leave(1)
    assert budget.active() == 0


def test_the_share():
    assert thread_share(4, 3, ()) == 3
    assert thread_share(1, 0, ()) == 1
    assert thread_share(2, None, ("JOBLET_TEST_NOT_SET",)) >= 1


def test_a_variable_of_the_environment_leaves_the_pools_alone(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert thread_share(2, None, ("OPENBLAS_NUM_THREADS",)) is None
    assert thread_share(2, 5, ("OPENBLAS_NUM_THREADS",)) == 5


def test_threading_calls_run_without_threadpoolctl(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    out = Parallel(n_jobs=2, backend="threading")(delayed(abs)(-i) for i in range(6))
    assert out == [0, 1, 2, 3, 4, 5]
    assert PROCESS_BLAS.active() == 0


# -- the threading backend, on this process's OpenBLAS ------------------------
@pytest.fixture
def blas(monkeypatch):
    """This process's BLAS thread count (at least 2), with no variable set and
    as many usable CPUs as that count: a call on ``n_jobs`` threads then
    limits BLAS to ``count // n_jobs``."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("numpy")
    if not any(i["user_api"] == "blas" for i in threadpoolctl.threadpool_info()):
        pytest.skip("no BLAS library loaded")
    for name in BLAS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    count = blas_threads()
    if count < 2:
        pytest.skip("BLAS runs one thread here: there is nothing to limit")
    monkeypatch.setattr(_thread_limits, "cpu_count", lambda: count)
    return count


def blas_threads() -> int:
    from threadpoolctl import threadpool_info

    counts = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return max(counts)


def seen_by_tasks(library, n_jobs: int = 2, n_tasks: int = 4) -> set[int]:
    return set(
        library.Parallel(n_jobs=n_jobs, backend="threading")(
            library.delayed(blas_threads)() for _ in range(n_tasks)
        )
    )


def test_tasks_see_the_share_and_the_count_comes_back(blas):
    import joblib

    import joblet_parallel

    assert seen_by_tasks(joblet_parallel) == {max(1, blas // 2)}
    assert blas_threads() == blas
    # joblib 1.6 leaves the pools of its thread workers as they are
    assert seen_by_tasks(joblib) == {blas}
    assert seen_by_tasks(joblet_parallel, n_jobs=blas) == {1}
    assert blas_threads() == blas
    assert PROCESS_BLAS.active() == 0


def test_inner_max_num_threads_applies_to_threads(blas):
    with parallel_config(backend="threading", inner_max_num_threads=blas - 1):
        seen = Parallel(n_jobs=blas)(delayed(blas_threads)() for _ in range(4))
    assert set(seen) == {blas - 1}  # not the share, 1
    assert blas_threads() == blas


def test_a_users_lower_limit_wins(blas):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        with parallel_config(backend="threading", inner_max_num_threads=blas):
            seen = Parallel(n_jobs=2)(delayed(blas_threads)() for _ in range(4))
        assert set(seen) == {1}
        assert blas_threads() == 1
    assert blas_threads() == blas


def test_a_users_limit_held_in_another_thread_wins(blas):
    """threadpoolctl gives a process-wide pool to one thread at a time: while
    a user's ``threadpool_limits`` holds it, a call leaves it alone."""
    from threadpoolctl import threadpool_limits

    held, done = threading.Event(), threading.Event()

    def user():
        with threadpool_limits(blas, user_api="blas"):
            held.set()
            done.wait(timeout=60)

    thread = threading.Thread(target=user)
    thread.start()
    try:
        held.wait(timeout=60)
        seen = Parallel(n_jobs=2, backend="threading")(
            delayed(blas_threads)() for _ in range(4)
        )
    finally:
        done.set()
        thread.join()
    assert set(seen) == {blas}
    assert blas_threads() == blas


def test_an_error_or_an_abandoned_generator_gives_the_count_back(blas):
    def fail():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        Parallel(n_jobs=2, backend="threading")(delayed(fail)() for _ in range(4))
    assert blas_threads() == blas
    generator = Parallel(n_jobs=2, backend="threading", return_as="generator")(
        delayed(blas_threads)() for _ in range(8)
    )
    assert next(generator) == max(1, blas // 2)
    generator.close()
    assert blas_threads() == blas
    assert PROCESS_BLAS.active() == 0


def nested_then_outer_count() -> tuple[list[int], int]:
    inner = Parallel(n_jobs=2, backend="threading")(
        delayed(blas_threads)() for _ in range(4)
    )
    return inner, blas_threads()


def test_nested_and_concurrent_calls_restore_the_original(blas):
    errors: list[BaseException] = []
    seen: list[int] = []
    barrier = threading.Barrier(8)

    def caller() -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(3):
                results = Parallel(n_jobs=2, backend="threading")(
                    delayed(nested_then_outer_count)() for _ in range(2)
                )
                for inner, outer in results:
                    seen.extend(inner)
                    seen.append(outer)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # never more than one call's share while any call ran
    assert len(seen) == 8 * 3 * 2 * 5  # 4 inner counts and 1 outer per task
    assert max(seen) <= max(1, blas // 2)
    assert blas_threads() == blas
    assert PROCESS_BLAS.active() == 0


def openmp_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp")


def test_each_worker_thread_limits_its_openmp_pool(blas):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("sklearn")  # brings an OpenMP runtime
    import sklearn.utils._openmp_helpers  # noqa: F401 - loads the runtime

    if not any(i["user_api"] == "openmp" for i in threadpoolctl.threadpool_info()):
        pytest.skip("no OpenMP runtime loaded")
    seen = Parallel(n_jobs=blas, backend="threading")(
        delayed(openmp_threads)() for _ in range(8)
    )
    assert set(seen) == {1}
