"""Failures that do not sink the call: return_exceptions, retries (worker death,
retry_on), task_timeout, max_tasks_per_child; and a long call with all of them
that still ends, keeps every healthy result, leaves nothing behind and stops on
Ctrl-C."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from contextlib import redirect_stdout

import cloudpickle
import psutil
import pytest

from joblet_parallel import (
    Parallel,
    RemoteTraceback,
    TerminatedWorkerError,
    delayed,
    parallel_config,
)
from joblet_parallel._errors import TaskTimeoutError

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)


def fail_every_third(i):
    if i % 3 == 0:
        raise ValueError(f"bad input {i}")
    return i * 10


def once_then(marker, action, value):
    """Fails the first time (per marker file), succeeds after."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        if action == "exit":
            os._exit(7)
        raise ConnectionError("flaky network")
    return value


def count_and_raise(counter, exc_type):
    with open(counter, "a") as handle:
        handle.write("x")
    raise exc_type("always")


def always_die(_):
    os._exit(3)


def sleep_and_return(delay, value=None):
    time.sleep(delay)
    return value


def our_workers():
    workers = set()
    for child in psutil.Process().children(recursive=True):
        try:
            ours = any("joblet_parallel._executor" in p for p in child.cmdline())
            if ours and child.status() != psutil.STATUS_ZOMBIE:
                workers.add(child.pid)
        except psutil.Error:
            pass
    return workers


@pytest.mark.parametrize(
    ("backend", "n_jobs"), [("loky", 2), ("threading", 2), ("loky", 1)]
)
@pytest.mark.parametrize("return_as", ["list", "generator"])
def test_return_exceptions_puts_each_error_in_its_place(backend, n_jobs, return_as):
    out = Parallel(
        n_jobs=n_jobs, backend=backend, return_exceptions=True, return_as=return_as
    )(delayed(fail_every_third)(i) for i in range(30))
    out = list(out)
    assert len(out) == 30
    for i, value in enumerate(out):
        if i % 3 == 0:
            assert isinstance(value, ValueError)
            assert str(value) == f"bad input {i}"
        else:
            assert value == i * 10
    if backend == "loky" and n_jobs > 1:  # the worker's traceback comes along
        assert isinstance(out[0].__cause__, RemoteTraceback)
        assert "fail_every_third" in str(out[0].__cause__)


def test_return_exceptions_from_parallel_config_and_default_fails_fast():
    with parallel_config(return_exceptions=True):
        out = Parallel(n_jobs=2)(delayed(fail_every_third)(i) for i in range(6))
    assert isinstance(out[3], ValueError)
    assert out[1] == 10
    with pytest.raises(ValueError, match=r"bad input [03]"):  # whichever first
        Parallel(n_jobs=2)(delayed(fail_every_third)(i) for i in range(6))


def test_a_task_whose_worker_died_is_sent_again(tmp_path):
    marker = str(tmp_path / "died-once")
    out = Parallel(n_jobs=2, retries=1)(
        delayed(once_then)(marker, "exit", "survived") if i == 2 else delayed(abs)(i)
        for i in range(8)
    )
    assert out == [0, 1, "survived", 3, 4, 5, 6, 7]


def test_without_retries_worker_death_still_fails_the_call(tmp_path):
    marker = str(tmp_path / "died-once")
    with pytest.raises(TerminatedWorkerError):
        Parallel(n_jobs=2)(
            delayed(once_then)(marker, "exit", 1) if i == 2 else delayed(abs)(i)
            for i in range(8)
        )


def test_final_error_says_attempts_and_why():
    with pytest.raises(TerminatedWorkerError) as info:
        Parallel(n_jobs=2, retries=2)(delayed(always_die)(i) for i in range(1))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "failed after 3 attempts" in notes
    assert notes.count("exited with code 3") == 3


def test_a_batch_that_lost_its_worker_keeps_its_healthy_results():
    out = Parallel(n_jobs=2, batch_size=10, return_exceptions=True)(
        delayed(always_die)(i) if i == 13 else delayed(abs)(-i) for i in range(40)
    )
    assert isinstance(out[13], TerminatedWorkerError)
    assert [v for i, v in enumerate(out) if i != 13] == [
        i for i in range(40) if i != 13
    ]


def test_retry_on_names_the_exceptions_worth_retrying(tmp_path):
    marker = str(tmp_path / "flaky")
    out = Parallel(n_jobs=2, retries=1, retry_on=ConnectionError)(
        delayed(once_then)(marker, "raise", "ok") for _ in range(1)
    )
    assert out == ["ok"]
    counter = tmp_path / "count"
    with pytest.raises(KeyError) as info:  # not named in retry_on: one attempt
        Parallel(n_jobs=2, retries=3, retry_on=ConnectionError)(
            delayed(count_and_raise)(str(counter), KeyError) for _ in range(1)
        )
    assert counter.read_text() == "x"
    assert not getattr(info.value, "__notes__", [])
    counter.unlink()
    with pytest.raises(ConnectionError) as info:
        Parallel(n_jobs=2, retries=2, retry_on=(ConnectionError,))(
            delayed(count_and_raise)(str(counter), ConnectionError) for _ in range(1)
        )
    assert counter.read_text() == "xxx"
    assert "failed after 3 attempts" in "\n".join(info.value.__notes__)


def test_task_timeout_stops_the_late_task_only():
    start = time.monotonic()
    out = Parallel(n_jobs=2, task_timeout=3.0, return_exceptions=True)(
        delayed(sleep_and_return)(30 if i == 1 else 0.01, i) for i in range(6)
    )
    assert time.monotonic() - start < 20  # hang guard, not a timing claim
    error = out[1]
    assert isinstance(error, TaskTimeoutError)
    assert isinstance(error, TimeoutError)
    assert "sleep_and_return(30, 1)" in str(error)
    assert "task_timeout=3 s" in str(error)
    assert [out[i] for i in (0, 2, 3, 4, 5)] == [0, 2, 3, 4, 5]
    with pytest.raises(TaskTimeoutError, match=r"sleep_and_return\(30"):
        Parallel(n_jobs=2, task_timeout=2.0)(
            delayed(sleep_and_return)(30 if i == 1 else 0.01, i) for i in range(4)
        )


@pytest.mark.parametrize(
    ("backend", "n_jobs", "expected"),
    [
        ("threading", 2, "a thread cannot be stopped"),
        ("loky", 1, "n_jobs=1 runs the tasks in this process"),
        ("multiprocessing", 2, "cannot stop a running task"),
    ],
)
def test_task_timeout_refused_where_tasks_cannot_be_stopped(backend, n_jobs, expected):
    with pytest.raises(ValueError, match=expected):
        Parallel(n_jobs=n_jobs, backend=backend, task_timeout=1)(
            delayed(abs)(i) for i in range(2)
        )


@pytest.mark.parametrize(
    ("backend", "n_jobs"), [("loky", 1), ("threading", 1), ("sequential", 2)]
)
def test_a_timeout_with_one_job_warns_that_it_is_not_used(backend, n_jobs):
    # joblib documents that timeout applies only when n_jobs != 1, and 1.6 warns
    with pytest.warns(UserWarning, match="'timeout' parameter will not be used") as got:
        out = Parallel(n_jobs=n_jobs, backend=backend, timeout=1)(
            delayed(abs)(-i) for i in range(3)
        )
    assert out == [0, 1, 2]
    assert got[0].filename == __file__  # at the user's line


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"return_exceptions": "yes"}, TypeError, "return_exceptions must be True"),
        ({"retries": -1}, ValueError, "retries must be an int >= 0"),
        ({"retry_on": "ValueError"}, TypeError, "retry_on must be an exception"),
        ({"task_timeout": 0}, ValueError, "task_timeout must be a number"),
    ],
)
def test_bad_failure_options_are_refused(options, error, match):
    with pytest.raises(error, match=match):
        Parallel(n_jobs=2, **options)
    with pytest.raises(error, match=match):
        parallel_config(**options)


# -- the long call of issue 15 ----------------------------------------------------
def chaotic(i, timeout):
    if i % 100 == 7:
        os._exit(9)  # 1%: the worker dies (every attempt)
    if i % 100 == 42:
        time.sleep(timeout + 30)  # 1%: past task_timeout
    if i % 10 == 3:
        raise ArithmeticError(f"task {i} raised")  # 10%
    if i % 250 == 0:
        print(f"task {i} prints")
        logging.getLogger("joblet.test.chaos").warning("task %d logs", i)
        warnings.warn("chaos warning", UserWarning, stacklevel=1)
    return i * i


def test_long_call_with_raising_dying_and_hanging_tasks(tmp_path):
    timeout = 2.0  # healthy tasks take ms: a margin for loaded machines
    keep = []
    handler = logging.Handler()
    handler.emit = keep.append
    logger = logging.getLogger("joblet.test.chaos")
    logger.addHandler(handler)
    out_stream = io.StringIO()
    start = time.monotonic()
    try:
        with (
            redirect_stdout(out_stream),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            out = Parallel(
                n_jobs=2,
                return_exceptions=True,
                retries=2,
                task_timeout=timeout,
                temp_folder=str(tmp_path),
            )(delayed(chaotic)(i, timeout) for i in range(1000))
    finally:
        logger.removeHandler(handler)
    assert time.monotonic() - start < 100  # hang guard only
    for i, value in enumerate(out):
        if i % 100 == 7:
            assert isinstance(value, TerminatedWorkerError), (i, value)
            assert "failed after 3 attempts" in "\n".join(value.__notes__)
        elif i % 100 == 42:
            assert isinstance(value, TaskTimeoutError), (i, value)
        elif i % 10 == 3:
            assert isinstance(value, ArithmeticError), (i, value)
            assert str(value) == f"task {i} raised"
        else:
            assert value == i * i, (i, value)
    printed = out_stream.getvalue().splitlines()
    assert sorted(printed) == sorted(f"task {i} prints" for i in (0, 250, 500, 750))
    assert sorted(r.getMessage() for r in keep) == sorted(
        f"task {i} logs" for i in (0, 250, 500, 750)
    )
    assert [str(w.message) for w in caught if w.category is UserWarning] == [
        "chaos warning"
    ]
    time.sleep(0.5)
    assert len(our_workers()) <= 2  # killed workers were replaced, not added
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_stops_such_a_call(tmp_path):
    pid_file = tmp_path / "pids"
    script = textwrap.dedent(
        f"""
        import os, time
        from joblet_parallel import Parallel, delayed

        def task(i):
            with open({str(pid_file)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            if i % 3 == 0:
                raise ValueError(i)
            time.sleep(60)

        Parallel(n_jobs=2, return_exceptions=True, retries=2, task_timeout=100)(
            delayed(task)(i) for i in range(50)
        )
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if pid_file.exists() and len(set(pid_file.read_text().split())) >= 2:
                break
            time.sleep(0.05)
        worker_pids = {int(pid) for pid in pid_file.read_text().split()}
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
