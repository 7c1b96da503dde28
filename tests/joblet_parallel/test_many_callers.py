"""Many callers, one process: Parallel called from 16 threads at once.

Each thread makes 50 mixed calls (plain, generator, failing, nested) on one
backend. Every call must get its own right results or its own error; no call
shuts down or steals another's workers; the worker processes stay within what
the calls asked for.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from joblet_parallel import Parallel, delayed

psutil = pytest.importorskip("psutil")

# About two minutes on two cores: run by ``nox -s threads`` (and CI), not by
# every run of the suite.
pytestmark = [
    pytest.mark.thread_unsafe,  # it makes its own 16 threads
    pytest.mark.skipif(
        os.environ.get("JOBLET_TEST_STRESS") != "1",
        reason="stress test: set JOBLET_TEST_STRESS=1 (nox -s threads does)",
    ),
]

THREADS = 16
CALLS = 50
# Calls per thread by backend: multiprocessing starts a pool of new processes
# for every call (as joblib's does), so 800 calls would take minutes here.
BACKENDS = {
    "sequential": CALLS,
    "threading": CALLS,
    "loky": CALLS,
    "multiprocessing": 3,
}


class CallerError(Exception):
    pass


def square(x):
    return x * x


def fails_for(x, caller):
    if x == 2:
        raise CallerError(f"caller {caller}")
    return x


def inner_sum(n):
    return sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(n)))


def one_caller(backend: str, caller: int, peak: list[int]) -> int:
    """The backend's number of mixed calls; returns how many checked out."""
    done = 0
    me = psutil.Process(os.getpid())
    for call in range(BACKENDS[backend]):
        kind = (caller + call) % 4
        if kind == 0:
            out = Parallel(n_jobs=2, backend=backend)(
                delayed(square)(i) for i in range(caller, caller + 6)
            )
            assert out == [i * i for i in range(caller, caller + 6)]
        elif kind == 1:
            gen = Parallel(n_jobs=2, backend=backend, return_as="generator")(
                delayed(square)(i) for i in range(5)
            )
            assert list(gen) == [0, 1, 4, 9, 16]
        elif kind == 2:
            with pytest.raises(CallerError, match=f"caller {caller}$"):
                Parallel(n_jobs=2, backend=backend)(
                    delayed(fails_for)(i, caller) for i in range(4)
                )
        else:
            out = Parallel(n_jobs=2, backend=backend)(
                delayed(inner_sum)(n) for n in (2, 3)
            )
            assert out == [1, 5]
        peak[0] = max(peak[0], len(me.children(recursive=True)))
        done += 1
    return done


@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_sixteen_threads_of_mixed_calls(backend):
    peak = [0]
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [
            pool.submit(one_caller, backend, caller, peak) for caller in range(THREADS)
        ]
        counts = [future.result() for future in futures]
    assert counts == [BACKENDS[backend]] * THREADS
    # Workers are shared by the calls, not made per call: 2 per call at most
    # would be 32; a shared pool stays at a few.
    if backend == "loky":
        assert peak[0] <= 2 * 2 + 2, f"{peak[0]} worker processes at once"
    assert threading.active_count() < 200
