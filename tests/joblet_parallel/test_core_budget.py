"""One core budget: a nested call never oversubscribes the machine.

An outer ``Parallel(n_jobs=2)`` whose tasks run an inner ``Parallel(n_jobs=2)``
of BLAS work: the threads of the whole process tree are counted while it
runs, for joblet and for joblib 1.6 side by side.
"""

from __future__ import annotations

import threading
import time

import pytest

np = pytest.importorskip("numpy")
psutil = pytest.importorskip("psutil")


def blas_then_count(seed):
    a = np.random.default_rng(seed).random((300, 300))
    for _ in range(3):
        a = a @ a / 300
    return psutil.Process().num_threads()


def inner_call(library_name):
    library = __import__(library_name)
    counts = library.Parallel(n_jobs=2)(
        library.delayed(blas_then_count)(i) for i in range(4)
    )
    return max(counts)


def tree_threads() -> int:
    me = psutil.Process()
    total = me.num_threads()
    for child in me.children(recursive=True):
        try:
            total += child.num_threads()
        except psutil.Error:
            continue
    return total


def peak_threads_of_nested_call(library_name: str) -> tuple[int, int]:
    """(peak threads in the process tree, most threads seen by one task)."""
    library = __import__(library_name)
    peak = [tree_threads()]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], tree_threads())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        seen = library.Parallel(n_jobs=2)(
            library.delayed(inner_call)(library_name) for _ in range(4)
        )
    finally:
        stop.set()
        watcher.join()
    return peak[0], max(seen)


@pytest.mark.timeout(300)
def test_a_nested_call_uses_no_more_threads_than_joblib():
    pytest.importorskip("joblib")
    before = tree_threads()
    ours, ours_per_task = peak_threads_of_nested_call("joblet_parallel")
    theirs, _ = peak_threads_of_nested_call("joblib")
    print(f"peak threads in the process tree: joblet {ours}, joblib 1.6 {theirs}")
    assert ours <= theirs
    # Each worker: its main thread, the result-sender, and BLAS limited to
    # cpu_count // n_jobs threads: never cpu_count per worker.
    budget = 2 + max(psutil.cpu_count() // 2, 1) + 1
    assert ours_per_task <= budget
    assert ours - before <= 2 * budget + 8  # + the pool's threads here
