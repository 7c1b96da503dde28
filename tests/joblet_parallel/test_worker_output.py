"""What process workers say reaches the parent: prints (to the parent's current
sys.stdout/sys.stderr, whole lines), logging records and warnings; and errors
that cannot travel back as they are still say what happened."""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout

import cloudpickle
import pytest

from joblet_parallel import Parallel, delayed, parallel_config
from joblet_parallel._errors import RemoteError, ResultPicklingError

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)


def shout(i):
    print(f"out {i}")
    print(f"err {i}", file=sys.stderr)
    return i


def quiet(i):
    return i


def pieces(i, n_lines=40):
    # Each line written in three pieces: a worker switch in between would show.
    for j in range(n_lines):
        sys.stdout.write(f"<{i}:")
        sys.stdout.write(f"{j}")
        sys.stdout.write(">\n")
    sys.stdout.write(f"unfinished {i}")  # no newline: ended at the batch's end
    return i


def capture(call):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        result = call()
    return result, out.getvalue(), err.getvalue()


def test_prints_reach_a_replaced_sys_stdout(capfd):
    result, out, err = capture(
        lambda: Parallel(n_jobs=2)(delayed(shout)(i) for i in range(6))
    )
    assert result == list(range(6))
    assert sorted(out.splitlines()) == [f"out {i}" for i in range(6)]
    assert sorted(err.splitlines()) == [f"err {i}" for i in range(6)]
    # Nothing went around the replaced streams to the real descriptors.
    captured = capfd.readouterr()
    assert "out 0" not in captured.out
    assert "err 0" not in captured.err


def test_lines_of_two_workers_never_mix():
    _, out, _ = capture(
        lambda: Parallel(n_jobs=2, batch_size=1)(delayed(pieces)(i) for i in range(8))
    )
    lines = out.splitlines()
    pattern = re.compile(r"<(\d):(\d+)>|unfinished (\d)")
    assert all(pattern.fullmatch(line) for line in lines), lines
    assert len(lines) == 8 * 41
    for i in range(8):  # each task's lines arrive in its order
        mine = [line for line in lines if line.startswith(f"<{i}:")]
        assert mine == [f"<{i}:{j}>" for j in range(40)]


def test_prefix_names_the_worker():
    with parallel_config(backend="loky", prefix_output=True):
        _, out, err = capture(
            lambda: Parallel(n_jobs=2)(delayed(shout)(i) for i in range(4))
        )
    numbers = set()
    for line in out.splitlines() + err.splitlines():
        match = re.fullmatch(r"\[worker (\d+)\] (out|err) \d", line)
        assert match, line
        numbers.add(int(match.group(1)))
    assert numbers
    assert numbers <= {1, 2, 3, 4}


def test_forwarding_off_leaves_output_on_the_descriptors(capfd):
    # Workers write to the descriptors they inherited when they started: start
    # new ones (other settings, other pool) while capfd holds the descriptors.
    with parallel_config(backend="loky", idle_worker_timeout=123.0):
        result, out, err = capture(
            lambda: Parallel(n_jobs=2, forward_output=False)(
                delayed(shout)(i) for i in range(3)
            )
        )
    assert result == [0, 1, 2]
    assert out == ""
    assert err == ""
    captured = capfd.readouterr()
    assert "out 1" in captured.out
    assert "err 2" in captured.err
    # The same workers forward again for the next call.
    with parallel_config(backend="loky", idle_worker_timeout=123.0):
        _, out, _ = capture(
            lambda: Parallel(n_jobs=2)(delayed(shout)(i) for i in range(3))
        )
    assert "out 1" in out
    assert "out 1" not in capfd.readouterr().out


def test_silent_tasks_print_nothing(capfd):
    result, out, err = capture(
        lambda: Parallel(n_jobs=2, verbose=0)(delayed(quiet)(i) for i in range(50))
    )
    assert result == list(range(50))
    assert out == ""
    assert err == ""
    assert capfd.readouterr() == ("", "")


def log_something(i):
    logging.getLogger("joblet.test.worker").info(
        "task %d says hello", i, extra={"task_id": i, "pid": os.getpid()}
    )
    logging.getLogger("joblet.test.worker").debug("below the parent's level")
    return i


class _Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_log_records_are_re_emitted_in_the_parent():
    logger = logging.getLogger("joblet.test.worker")
    keep = _Keep()
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    try:
        Parallel(n_jobs=2)(delayed(log_something)(i) for i in range(4))
    finally:
        logger.removeHandler(keep)
        logger.setLevel(logging.NOTSET)
    assert sorted(record.getMessage() for record in keep.records) == [
        f"task {i} says hello" for i in range(4)
    ]
    for record in keep.records:
        assert record.name == "joblet.test.worker"
        assert record.levelno == logging.INFO
        assert record.getMessage() == f"task {record.task_id} says hello"
        assert record.pid != os.getpid()  # the extra field came from the worker


def warn_same(i):
    warnings.warn("careful with this one", RuntimeWarning, stacklevel=1)
    return i


def test_warnings_reraised_once_per_category_message_and_place():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert Parallel(n_jobs=2, batch_size=1)(
            delayed(warn_same)(i) for i in range(10)
        ) == list(range(10))
    ours = [w for w in caught if "careful" in str(w.message)]
    assert len(ours) == 1
    assert ours[0].category is RuntimeWarning
    assert ours[0].lineno == warn_same.__code__.co_firstlineno + 1


class Unpicklable:
    def __reduce__(self):
        raise TypeError("this object refuses to be pickled")


def return_unpicklable(i):
    return Unpicklable() if i == 3 else i


def test_unpicklable_result_names_the_task():
    with pytest.raises(ResultPicklingError) as info:
        Parallel(n_jobs=2, batch_size=5)(
            delayed(return_unpicklable)(i) for i in range(5)
        )
    message = str(info.value)
    assert "result of return_unpicklable(3)" in message
    assert "refuses to be pickled" in message


class NeedsTwoArguments(Exception):
    def __init__(self, code, detail):
        super().__init__(f"code {code}: {detail}")


def raise_odd_error(i):
    raise NeedsTwoArguments(i, "went wrong")


def test_exception_that_cannot_be_rebuilt_comes_back_as_remote_error():
    with pytest.raises(RemoteError) as info:
        Parallel(n_jobs=2)(delayed(raise_odd_error)(i) for i in range(2))
    error = info.value
    assert error.type_name.endswith("NeedsTwoArguments")
    assert "went wrong" in error.message
    assert "raise_odd_error" in error.traceback_text
    assert "NeedsTwoArguments" in str(error)
