"""Many processes and threads on one cache: complete values, one computation."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time

import pytest

from joblet_memory import Memory

KEYS = 12


def slow_array_like(key):
    # A value whose every part depends on the key, so a partial or mixed-up
    # read is detected.
    time.sleep(0.002)
    return [key] * 2000 + [f"end-{key}"]


def _worker(location, seed, n_calls, queue):
    try:
        cached = Memory(location, verbose=0).cache(slow_array_like)
        bad = 0
        for i in range(n_calls):
            key = (seed * 7 + i) % KEYS
            value = cached(key)
            if value != [key] * 2000 + [f"end-{key}"]:
                bad += 1
        queue.put(("ok", bad))
    except BaseException as error:  # report anything to the parent
        queue.put(("error", repr(error)))


@pytest.mark.timeout(240)
def test_eight_processes_two_hundred_calls(tmp_path):
    # Not fork: the test process has threads (pytest-timeout's, the pools'),
    # and forking a threaded process can deadlock the child.
    context = multiprocessing.get_context(
        "forkserver" if sys.platform == "linux" else "spawn"
    )
    queue = context.Queue()
    processes = [
        context.Process(target=_worker, args=(str(tmp_path), seed, 200, queue))
        for seed in range(8)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert results == [("ok", 0)] * 8
    assert all(process.exitcode == 0 for process in processes)
    memory = Memory(tmp_path, verbose=0)
    assert len(memory.store_backend.get_items()) == KEYS
    leftovers = [
        name
        for _, _, files in os.walk(tmp_path)
        for name in files
        if name.endswith(".tmp")  # temporaries of any writer: none may remain
    ]
    assert leftovers == []


def _count_calls(path):
    with open(path) as handle:
        return len(handle.read())


@pytest.mark.parametrize(("lock", "expected"), [(True, 1), (False, 4)])
def test_one_computes_the_others_wait(tmp_path, lock, expected):
    counter = tmp_path / "calls"
    counter.write_text("")
    barrier = threading.Barrier(4)

    def compute(x):
        with open(counter, "a") as handle:
            handle.write("x")
        time.sleep(0.3)
        return x * 2

    cached = Memory(
        tmp_path / "cache", verbose=0, backend_options={"lock": lock}
    ).cache(compute)
    results = []

    def run():
        barrier.wait()
        results.append(cached(21))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [42] * 4
    assert _count_calls(counter) == expected


def test_lock_timeout_falls_back_to_computing(tmp_path):
    from joblet_memory import CacheWarning

    started = threading.Event()

    def compute(x):
        started.set()
        time.sleep(0.5)
        return x

    options = {"lock_timeout": 0.05}
    cached = Memory(tmp_path, verbose=0, backend_options=options).cache(compute)
    first = threading.Thread(target=cached, args=(1,))
    first.start()
    started.wait()
    with pytest.warns(CacheWarning, match="computing here too"):
        assert cached(1) == 1
    first.join()
