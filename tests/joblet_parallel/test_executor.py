"""Our process executor: reuse, worker death, timeout, Ctrl-C, nesting, thread
limits, worker output, memory recycling, initializer and idle timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import cloudpickle
import psutil
import pytest

from joblet_parallel import (
    Parallel,
    TerminatedWorkerError,
    delayed,
    parallel_config,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)


def getpid(_=None):
    return os.getpid()


def die(code):
    if code is None:
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(code)


def sleep_and_return(delay, value=None):
    time.sleep(delay)
    return value


def children_of_us():
    return {child.pid for child in psutil.Process().children(recursive=True)}


def our_workers():
    """Worker processes of our executor (not, say, multiprocessing's forkserver)."""
    workers = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if any("joblet_parallel._executor" in part for part in child.cmdline()):
                workers.add(child.pid)
        except psutil.Error:
            pass
    return workers


def test_workers_are_reused_across_calls_and_in_with_block():
    first = set(Parallel(n_jobs=2)(delayed(getpid)(i) for i in range(20)))
    second = set(Parallel(n_jobs=2)(delayed(getpid)(i) for i in range(20)))
    assert os.getpid() not in first
    assert first & second
    with Parallel(n_jobs=2) as parallel:
        a = set(parallel(delayed(getpid)(i) for i in range(10)))
        b = set(parallel(delayed(getpid)(i) for i in range(10)))
    assert a & b


@pytest.mark.parametrize(
    ("code", "expected"),
    [(None, r"signal 9 \(SIGKILL\)"), (3, "exited with code 3")],
)
def test_killed_worker_raises_then_pool_heals(code, expected):
    start = time.monotonic()
    with pytest.raises(TerminatedWorkerError, match=expected) as info:
        Parallel(n_jobs=2)(
            delayed(die)(code) if i == 1 else delayed(sleep_and_return)(0.01)
            for i in range(4)
        )
    assert time.monotonic() - start < 3
    assert f"die({code})" in str(info.value)  # the task, with its arguments
    # The next call works on a healed pool.
    assert Parallel(n_jobs=2)(
        delayed(sleep_and_return)(0, i) for i in range(6)
    ) == list(range(6))


def test_timeout_kills_late_workers_and_heals():
    pids_before = set(Parallel(n_jobs=2)(delayed(getpid)(i) for i in range(4)))
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        Parallel(n_jobs=2, timeout=0.5)(
            delayed(sleep_and_return)(d) for d in (0.01, 30, 0.01)
        )
    assert time.monotonic() - start < 5
    time.sleep(0.2)
    alive = {
        pid
        for pid in pids_before
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
    }
    assert len(alive) < len(pids_before)  # the worker with the 30 s task was killed
    assert Parallel(n_jobs=2)(
        delayed(sleep_and_return)(0, i) for i in range(4)
    ) == list(range(4))


def test_timeout_threading_backend():
    # The message does not claim that the late thread was stopped.
    with pytest.raises(TimeoutError, match="threads cannot be stopped"):
        Parallel(n_jobs=2, backend="threading", timeout=0.2)(
            delayed(sleep_and_return)(d) for d in (0.01, 1.0)
        )


def test_sigint_to_a_child_interpreter_stops_everything(tmp_path):
    pid_file = tmp_path / "pids"
    script = textwrap.dedent(
        f"""
        import os, time
        from joblet_parallel import Parallel, delayed

        def task(i):
            with open({str(pid_file)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            time.sleep(60)

        Parallel(n_jobs=2)(delayed(task)(i) for i in range(4))
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if pid_file.exists() and len(pid_file.read_text().split()) >= 2:
                break
            time.sleep(0.05)
        worker_pids = [int(pid) for pid in pid_file.read_text().split()]
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        psutil.pid_exists(pid) for pid in worker_pids
    ):
        time.sleep(0.05)
    assert not any(psutil.pid_exists(pid) for pid in worker_pids)


def inner_info(i):
    from joblet_parallel import Parallel, delayed

    inner = Parallel()
    results = inner(delayed(abs)(-j) for j in range(3))
    return type(inner._backend).__name__, inner._n_jobs, results


def test_nested_calls_do_not_oversubscribe():
    outer = Parallel(n_jobs=2)(delayed(inner_info)(i) for i in range(2))
    for backend_name, n_jobs, results in outer:
        assert results == [0, 1, 2]
        # 2 outer workers on this machine: each inner call gets cpu_count // 2.
        assert backend_name in ("ThreadingBackend", "SequentialBackend")
        assert n_jobs is None or n_jobs <= max(1, os.cpu_count() // 2)
    threaded = Parallel(n_jobs=2, backend="threading")(
        delayed(inner_info)(i) for i in range(2)
    )
    # inside a thread worker: threads, with the inner call's own n_jobs (joblib)
    assert {(name, n_jobs) for name, n_jobs, _ in threaded} == {("ThreadingBackend", 1)}


def thread_limits(_):
    names = (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "BLIS_NUM_THREADS",
    )
    return {name: os.environ.get(name) for name in names}


def test_thread_limits_visible_in_workers(monkeypatch):
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "BLIS_NUM_THREADS",
    ):
        monkeypatch.delenv(name, raising=False)
    expected = str(max(1, os.cpu_count() // 2))
    limits = Parallel(n_jobs=2)(delayed(thread_limits)(i) for i in range(2))
    assert all(value == expected for value in limits[0].values())
    with parallel_config(backend="loky", inner_max_num_threads=3):
        limits = Parallel(n_jobs=2)(delayed(thread_limits)(i) for i in range(2))
    assert set(limits[0].values()) == {"3"}
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    limits = Parallel(n_jobs=2)(delayed(thread_limits)(i) for i in range(2))
    assert limits[0]["OMP_NUM_THREADS"] == "5"


def shout(i):
    print(f"out from worker {i}")
    print(f"err from worker {i}", file=sys.stderr)
    return i


def test_worker_output_reaches_parent(capfd):
    Parallel(n_jobs=2)(delayed(shout)(i) for i in range(3))
    captured = capfd.readouterr()
    for i in range(3):
        assert f"out from worker {i}" in captured.out
        assert f"err from worker {i}" in captured.err


def leak(size):
    import builtins

    hoard = getattr(builtins, "_joblet_test_hoard", [])
    builtins._joblet_test_hoard = hoard
    hoard.append(bytearray(size))
    return os.getpid()


def test_leaky_workers_are_recycled():
    with parallel_config(
        backend="loky", max_memory_growth=20 * 1024**2, memory_check_interval=0.0
    ):
        pids = Parallel(n_jobs=2, batch_size=1)(
            delayed(leak)(8 * 1024**2) for _ in range(16)
        )
    assert len(set(pids)) > 2


def remember(value):
    import builtins

    builtins._joblet_initialized = value


def initialized(_):
    import builtins

    return getattr(builtins, "_joblet_initialized", None)


def test_initializer_and_idle_timeout():
    with parallel_config(
        backend="loky", initializer=remember, initargs=("yes",), idle_worker_timeout=0.5
    ):
        assert (
            Parallel(n_jobs=2)(delayed(initialized)(i) for i in range(4)) == ["yes"] * 4
        )
        pids = set(Parallel(n_jobs=2)(delayed(getpid)(i) for i in range(4)))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(psutil.pid_exists(pid) for pid in pids):
        time.sleep(0.1)
    assert not any(psutil.pid_exists(pid) for pid in pids)


def test_lambdas_closures_and_large_buffers():
    offset = 10
    assert Parallel(n_jobs=2)(delayed(lambda x: x + offset)(i) for i in range(3)) == [
        10,
        11,
        12,
    ]
    blob = bytearray(b"x" * (4 * 1024**2))
    assert (
        Parallel(n_jobs=2)(delayed(len)(memoryview(blob)) for _ in range(2))
        == [len(blob)] * 2
    )


def test_numpy_arrays_round_trip():
    np = pytest.importorskip("numpy")
    arrays = [np.arange(100_000, dtype=float) * i for i in range(4)]
    doubled = Parallel(n_jobs=2)(delayed(np.multiply)(a, 2) for a in arrays)
    for a, b in zip(arrays, doubled, strict=True):
        assert np.array_equal(a * 2, b)


def test_concurrent_calls_with_different_worker_settings():
    # Different worker settings need another pool; starting it must not shut down
    # the pool a call in another thread is still submitting to.
    from joblet_parallel._backends import ProcessBackend

    outcomes = {}

    def run(name, backend):
        try:
            tasks = (delayed(sleep_and_return)(0.02, i) for i in range(30))
            outcomes[name] = Parallel(n_jobs=2, backend=backend)(tasks)
        except Exception as error:  # pragma: no cover - the failure reported
            outcomes[name] = error

    first = threading.Thread(target=run, args=("first", "loky"))
    second = threading.Thread(
        target=run, args=("second", ProcessBackend(idle_worker_timeout=123.0))
    )
    first.start()
    time.sleep(0.2)  # the first call is running when the second starts
    second.start()
    first.join(20)
    second.join(20)
    assert not first.is_alive()
    assert not second.is_alive()
    assert outcomes == {"first": list(range(30)), "second": list(range(30))}
    # Once both calls are over, one set of workers is left.
    deadline = time.monotonic() + 5
    while len(our_workers()) > 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(our_workers()) <= 2


def test_a_failing_callback_does_not_stop_result_reading():
    # The callback runs in the thread that reads the worker's results: if an
    # exception there ended that thread, the worker's next results would never
    # be read and their calls would hang.
    from joblet_parallel._batching import BatchedCalls
    from joblet_parallel._executor import get_pool, release_pool
    from joblet_parallel._pickling import dumps

    def failing_callback(job):
        raise RuntimeError("a callback that fails")

    pool = get_pool(2, {"JOBLET_TEST_POOL": "callbacks"})
    try:
        for value in range(6):  # several rounds, so that every worker gets one
            job = pool.submit(
                dumps(BatchedCalls([(abs, (-value,), {})])), failing_callback
            )
            assert job.result(timeout=10) == [value]
        later = [
            pool.submit(dumps(BatchedCalls([(abs, (-value,), {})])))
            for value in range(6)
        ]
        assert [job.result(timeout=10) for job in later] == [[v] for v in range(6)]
    finally:
        release_pool(pool)


@pytest.mark.parametrize("batch_size", [1, "auto", 5])
def test_max_tasks_per_child_recycles_workers(batch_size):
    pids = Parallel(n_jobs=2, batch_size=batch_size, max_tasks_per_child=2)(
        delayed(getpid)(i) for i in range(12)
    )
    counts = {pid: pids.count(pid) for pid in set(pids)}
    assert len(counts) >= 6
    assert max(counts.values()) <= 2  # batches are capped at the limit


def test_max_tasks_per_child_is_checked():
    with pytest.raises(ValueError, match="max_tasks_per_child must be a positive"):
        Parallel(n_jobs=2, max_tasks_per_child=0)(delayed(getpid)(i) for i in range(2))


def test_a_job_past_its_time_limit_stops_its_worker_only():
    from joblet_parallel._batching import BatchedCalls
    from joblet_parallel._executor import get_pool, release_pool
    from joblet_parallel._pickling import dumps_task

    def submit(delay, value, time_limit=None):
        batch = BatchedCalls([(sleep_and_return, (delay, value), {})])
        payload = dumps_task(batch, {})
        return pool.submit(payload, describe=batch.describe, time_limit=time_limit)

    pool = get_pool(2, env={})
    try:
        late = submit(30, "late", time_limit=0.5)
        fine = submit(0.8, "fine", time_limit=20)
        with pytest.raises(TimeoutError, match=r"sleep_and_return\(30, 'late'\)"):
            late.result(timeout=20)
        assert fine.result(timeout=20) == ["fine"]
        assert submit(0, "next").result(timeout=20) == ["next"]
    finally:
        release_pool(pool)


def test_the_watchdog_ends_when_the_last_timed_job_does():
    # It used to sleep until the finished job's deadline (here 60 s), a thread
    # left behind by every call with a long task_timeout.
    import threading
    import time

    from joblet_parallel._batching import BatchedCalls
    from joblet_parallel._executor import get_pool, release_pool
    from joblet_parallel._pickling import dumps_task

    def watchdogs():
        return [t for t in threading.enumerate() if t.name == "joblet-watchdog"]

    pool = get_pool(2, env={})
    try:
        batch = BatchedCalls([(sleep_and_return, (0.1, "quick"), {})])
        job = pool.submit(dumps_task(batch, {}), time_limit=60)
        assert watchdogs()
        assert job.result(timeout=20) == ["quick"]
        deadline = time.monotonic() + 5
        while watchdogs() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not watchdogs()
    finally:
        release_pool(pool)


def put_square(shared, i):
    shared[i] = i * i
    return i


def test_manager_proxies_work_in_workers_of_a_reused_pool():
    import multiprocessing

    Parallel(n_jobs=2)(delayed(getpid)(i) for i in range(2))  # pool exists first
    with multiprocessing.get_context("forkserver").Manager() as manager:
        shared = manager.dict()
        Parallel(n_jobs=2)(delayed(put_square)(shared, i) for i in range(4))
        assert dict(shared) == {i: i * i for i in range(4)}


# Modules a worker has no use for when its tasks bring no memory-mapped data:
# the parent's pool, dispatch and backends, the logger helpers, memmapping.
PARENT_ONLY_MODULES = (
    "joblet_parallel._parallel",
    "joblet_parallel._dispatch",
    "joblet_parallel._executor._pool",
    "joblet_parallel._backends._process",
    "joblet_parallel._backends._multiprocessing",
    "joblet_parallel._memmapping",
    "joblet_parallel._dumpstore",
    "joblet_parallel.logger",
    "joblet_persist",
)


@pytest.mark.timeout(120)
def test_a_worker_imports_only_what_it_runs():
    # Worker start-up is on the path of every first call: a fresh interpreter
    # checks what its workers loaded after running plain tasks.
    code = textwrap.dedent(
        """
        import sys
        from joblet_parallel import Parallel, delayed

        def loaded(_):
            return sorted(sys.modules)

        first, second = Parallel(n_jobs=2)(delayed(loaded)(i) for i in range(2))
        print(" ".join(first))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    )
    loaded = set(out.stdout.split())
    assert "joblet_parallel._executor._worker" in loaded
    assert not loaded & set(PARENT_ONLY_MODULES)


def test_importing_the_package_loads_none_of_its_modules():
    code = (
        "import sys, joblet_parallel; "
        "print(' '.join(m for m in sys.modules if m.startswith('joblet_parallel.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.split() == []


def test_memory_growth_is_checked_after_each_task_by_default():
    # 40 MB kept per task, a 100 MB limit counted from the end of a worker's
    # first task: the check after its 4th task retires it, and a 5th may have
    # been sent to it already; however fast the tasks are (it ran 8 when it
    # looked once a second).
    with parallel_config(backend="loky", max_memory_growth=100 * 1024**2):
        pids = Parallel(n_jobs=2, batch_size=1)(
            delayed(leak_touched)(40 * 1024**2) for _ in range(16)
        )
    assert max(pids.count(pid) for pid in set(pids)) <= 5, pids


def leak_touched(size):
    import builtins

    hoard = getattr(builtins, "_joblet_test_hoard", [])
    builtins._joblet_test_hoard = hoard
    hoard.append(b"x" * size)  # resident, unlike a zeroed bytearray
    return os.getpid()
