"""joblet_hash.threads: the usable-CPU count and the ordered, bounded pool map."""

from __future__ import annotations

import builtins
import io
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from joblet_hash import threads
from joblet_hash.threads import (
    MAX_HELPER_THREADS,
    helper_thread_count,
    ordered_map,
    usable_cpu_count,
)


def _no_cgroup_files(monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> None:
    """Make ``open`` of the cgroup files return ``files`` (missing ones: OSError)."""
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        path = str(path)
        if path.startswith("/sys/fs/cgroup/"):
            if path in files:
                return io.StringIO(files[path])
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)


def test_usable_cpu_count_is_the_affinity_mask():
    expected = len(os.sched_getaffinity(0))
    quota = threads._cgroup_cpu_limit()
    if quota is not None:  # inside a container with a CPU quota
        expected = min(expected, max(1, math.ceil(quota)))
    assert usable_cpu_count() == expected


def test_a_refused_affinity_call_falls_back_to_the_machine_count(monkeypatch):
    def refuse(pid):  # type: ignore[no-untyped-def]
        raise OSError("sched_getaffinity is not allowed here")

    monkeypatch.setattr(os, "sched_getaffinity", refuse)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    _no_cgroup_files(monkeypatch, {})
    assert usable_cpu_count() == 3


def test_no_affinity_and_no_cpu_count_still_gives_one(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    _no_cgroup_files(monkeypatch, {})
    assert usable_cpu_count() == 1


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"/sys/fs/cgroup/cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs, rounded up
        ({"/sys/fs/cgroup/cpu.max": "max 100000\n"}, 16),
        ({"/sys/fs/cgroup/cpu.max": "20000 100000\n"}, 1),
        (
            {
                "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "300000\n",
                "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
            },
            3,
        ),
        (
            {
                "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
                "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
            },
            16,
        ),
        ({"/sys/fs/cgroup/cpu.max": "garbage"}, 16),
    ],
)
def test_a_cgroup_quota_bounds_the_count(monkeypatch, files, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    _no_cgroup_files(monkeypatch, files)
    assert usable_cpu_count() == expected


def test_helper_threads_are_capped(monkeypatch):
    monkeypatch.setattr(threads, "usable_cpu_count", lambda: 64)
    assert helper_thread_count() == MAX_HELPER_THREADS
    monkeypatch.setattr(threads, "usable_cpu_count", lambda: 2)
    assert helper_thread_count() == 2


@pytest.mark.parametrize("with_pool", [True, False])
@pytest.mark.timeout(60)
def test_ordered_map_keeps_the_order_of_the_items(with_pool):
    def slow_for_small(n: int) -> int:
        # early items finish last, so completion order differs from item order
        threading.Event().wait(0.001 * (20 - n % 20))
        return n * n

    with ThreadPoolExecutor(4) as pool:
        results = list(
            ordered_map(slow_for_small, range(60), 4, pool if with_pool else None)
        )
    assert results == [n * n for n in range(60)]


@pytest.mark.timeout(60)
def test_ordered_map_takes_items_only_as_results_are_consumed():
    taken = []

    def items():
        for n in range(100):
            taken.append(n)
            yield n

    with ThreadPoolExecutor(2) as pool:
        results = ordered_map(lambda n: n, items(), 2, pool, ahead=3)
        assert next(results) == 0
        # the window is 3: one result consumed, at most 3 more pending
        assert len(taken) <= 4
        results.close()


@pytest.mark.timeout(60)
def test_stopping_early_cancels_the_items_not_started():
    gate = threading.Event()
    started = []

    def held_after_the_first(n: int) -> int:
        started.append(n)
        if n > 0:
            gate.wait(30)
        return n

    with ThreadPoolExecutor(1) as pool:
        results = ordered_map(held_after_the_first, range(10), 2, pool, ahead=5)
        assert next(results) == 0
        results.close()  # items 1-4 were submitted; 1 may be running
        gate.set()
    assert set(started) <= {0, 1}


def test_an_error_in_func_reaches_the_caller():
    def fail_on_three(n: int) -> int:
        if n == 3:
            raise ValueError("item 3 is bad")
        return n

    with (
        ThreadPoolExecutor(2) as pool,
        pytest.raises(ValueError, match="item 3 is bad"),
    ):
        list(ordered_map(fail_on_three, range(10), 2, pool))
