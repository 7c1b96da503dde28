"""The backend contract: one set of behaviours every backend keeps.

A test module makes a ``contract_case`` fixture (a :class:`Case`) and
subclasses :class:`BackendContract`; pytest then runs every behaviour on that
backend, for each ``return_as`` where the order of results matters. What a
backend offers is read from the capability table of ``docs/parallel.rst``
(:func:`documented_matrix`): a *yes* cell is checked to work, a *no* cell to be
refused at once with an error naming the backend and the alternative, so the
page cannot drift from the code. joblet-dask's tests load this file too (with
``load_helper``), so that joblet-parallel's tests never need dask.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from joblet_parallel import (
    Parallel,
    ResultPicklingError,
    TaskTimeoutError,
    delayed,
)

# Workers cannot import this file by name: its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

# Where the table is. Kept in the environment by the first load: a dask
# cluster's scheduler may import a copy of this file from elsewhere
# (``client.upload_file``), whose ``__file__`` is not in the repository.
DOCS = Path(
    os.environ.setdefault(
        "JOBLET_CONTRACT_DOCS",
        str(Path(__file__).resolve().parents[2] / "docs" / "parallel.rst"),
    )
)
BACKENDS = ("sequential", "threading", "loky", "multiprocessing", "dask", "third-party")
FEATURES = (
    "``return_as`` generators",
    "``return_exceptions``",
    "``retry_on``",
    "``retries`` (dead)",
    "``task_timeout``",
    "``timeout``",
    "``max_tasks_per_child``",
    "``initializer``",
    "output relay",
    "pickles arguments",
    "nested calls",
)
RETURN_AS = ("list", "generator", "generator_unordered")
CELLS = ("yes", "no", "n/a", "ignored")


def documented_matrix(path: Path = DOCS) -> dict[str, dict[str, str]]:
    """``{feature: {backend: cell}}`` from the table between the
    ``backend-capabilities`` markers of the docs page."""
    text = path.read_text(encoding="utf-8")
    block = text.split(".. backend-capabilities-start", 1)[1]
    block = block.split(".. backend-capabilities-end", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    border = lines[0]
    starts = [match.start() for match in re.finditer(r"=+", border)]
    bounds = [*starts[1:], None]

    def cells(line: str) -> list[str]:
        return [line[a:b].strip() for a, b in zip(starts, bounds, strict=True)]

    header = cells(lines[1])
    assert lines[2] == border, "a simple rst table"
    assert lines[-1] == border, "a simple rst table"
    matrix = {}
    for line in lines[3:-1]:
        feature, *values = cells(line)
        matrix[feature] = dict(zip(header[1:], values, strict=True))
    return matrix


def render_matrix(matrix: dict[str, dict[str, str]]) -> str:
    """The rst table of ``matrix`` (what the docs page holds)."""
    first = max(len("feature"), *(len(feature) for feature in matrix))
    widths = [first, *(max(len(b), 3) for b in BACKENDS)]
    border = "  ".join("=" * width for width in widths)

    def row(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True))

    body = [row([f, *(matrix[f][b] for b in BACKENDS)]) for f in matrix]
    lines = [border, row(["feature", *BACKENDS]), border, *body, border]
    return "\n".join(line.rstrip() for line in lines)


@dataclasses.dataclass
class Case:
    """One backend under contract: its name in the table and how to select it."""

    name: str
    backend: Any  # what Parallel(backend=...) receives
    n_jobs: int = 2

    def cell(self, feature: str) -> str:
        return documented_matrix()[feature][self.name]

    def label(self) -> str:
        """The backend's class name, as errors name it."""
        backend = self.backend
        if isinstance(backend, str):
            backend = Parallel(backend=backend)._backend_source
        return type(backend).__name__

    def parallel(self, **options: Any) -> Parallel:
        options.setdefault("n_jobs", self.n_jobs)
        return Parallel(backend=self.backend, **options)


# --- tasks ------------------------------------------------------------------------


def square(x: int) -> int:
    return x * x


def fail_at_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"task {x} failed")
    return x


def flaky(marker: str) -> str:
    """Raises ConnectionError at the first attempt (a file marks it)."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        raise ConnectionError("first attempt fails")
    return "ok"


def exit_once(marker: str) -> str:
    """Kills its worker at the first attempt."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        os._exit(1)
    return "ok"


def segfault_once(marker: str) -> str:
    """Crashes its worker with a segmentation fault at the first attempt."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        import ctypes

        ctypes.string_at(0)  # reads address 0
    return "ok"


def hang_once(marker: str) -> str:
    """Hangs at the first attempt."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        time.sleep(60)
    return "ok"


def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def pid_of(_: Any) -> int:
    return os.getpid()


def set_marker_variable(value: str) -> None:
    os.environ["JOBLET_CONTRACT_INIT"] = value


def marker_variable(_: Any) -> str | None:
    return os.environ.get("JOBLET_CONTRACT_INIT")


def talk(i: int) -> int:
    print(f"printed by task {i}")
    logging.getLogger("joblet.contract").warning("logged by task %d", i)
    warnings.warn(f"warned by task {i}", UserWarning, stacklevel=1)
    return i


def lock_or_value(i: int) -> Any:
    return threading.Lock() if i == 1 else i


def takes(argument: Any) -> str:
    return type(argument).__name__


def nested_sum(n: int) -> int:
    return sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(n)))


def collect(output: Any, return_as: str) -> list[Any]:
    values = list(output)
    return sorted(values) if return_as == "generator_unordered" else values


def assert_refused(call: Parallel, tasks: Any, *words: str) -> None:
    """The call is refused at once (nothing runs), with a message holding
    ``words``: the backend, the option and what to use instead."""
    start = time.monotonic()
    with pytest.raises(ValueError, match=re.escape(words[0])) as info:
        call(tasks)
    assert time.monotonic() - start < 2
    for word in words:
        assert word in str(info.value), (word, str(info.value))


class BackendContract:
    """The behaviours; ``contract_case`` is a fixture of the test module."""

    # -- results, errors ------------------------------------------------------------
    @pytest.mark.parametrize("return_as", RETURN_AS)
    def test_results_in_order(self, contract_case: Case, return_as: str) -> None:
        output = contract_case.parallel(return_as=return_as, batch_size=2)(
            delayed(square)(i) for i in range(7)
        )
        assert collect(output, return_as) == [i * i for i in range(7)]

    @pytest.mark.parametrize("return_as", RETURN_AS)
    def test_an_error_keeps_its_type_and_traceback(
        self, contract_case: Case, return_as: str
    ) -> None:
        with pytest.raises(ValueError, match="task 3 failed") as info:
            collect(
                contract_case.parallel(return_as=return_as, batch_size=1)(
                    delayed(fail_at_three)(i) for i in range(6)
                ),
                return_as,
            )
        text = "".join(traceback.format_exception(info.value))
        assert "in fail_at_three" in text  # the worker's frame, wherever it ran

    @pytest.mark.parametrize("return_as", RETURN_AS)
    def test_return_exceptions(self, contract_case: Case, return_as: str) -> None:
        assert contract_case.cell("``return_exceptions``") == "yes"
        output = contract_case.parallel(return_as=return_as, return_exceptions=True)(
            delayed(fail_at_three)(i) for i in range(6)
        )
        values = list(output)
        errors = [v for v in values if isinstance(v, ValueError)]
        assert len(errors) == 1
        assert str(errors[0]) == "task 3 failed"
        assert sorted(v for v in values if not isinstance(v, Exception)) == [
            0,
            1,
            2,
            4,
            5,
        ]
        if return_as != "generator_unordered":
            assert values.index(errors[0]) == 3

    @pytest.mark.parametrize("return_as", RETURN_AS[1:])
    def test_generators(self, contract_case: Case, return_as: str) -> None:
        assert contract_case.cell("``return_as`` generators") == "yes"
        output = contract_case.parallel(return_as=return_as, batch_size=1)(
            delayed(fail_at_three)(i) for i in range(6)
        )
        assert not isinstance(output, list)
        first = next(output)
        assert first in (0, 1, 2)  # results before the failing task come first
        with pytest.raises(ValueError, match="task 3 failed"):
            list(output)

    # -- failures survived ------------------------------------------------------------
    def test_retry_on(self, contract_case: Case, tmp_path: Path) -> None:
        assert contract_case.cell("``retry_on``") == "yes"
        markers = [str(tmp_path / f"marker{i}") for i in range(3)]
        assert (
            contract_case.parallel(retries=1, retry_on=ConnectionError)(
                delayed(flaky)(marker) for marker in markers
            )
            == ["ok"] * 3
        )

    def test_retries_after_a_dead_worker(
        self, contract_case: Case, tmp_path: Path
    ) -> None:
        cell = contract_case.cell("``retries`` (dead)")
        if cell == "n/a":
            pytest.skip("the tasks run in this process: no worker dies alone")
        call = contract_case.parallel(retries=1, batch_size=1)
        tasks = [
            delayed(exit_once)(str(tmp_path / "exit")),
            delayed(segfault_once)(str(tmp_path / "segfault")),
        ]
        if cell == "no":
            assert_refused(call, tasks, "retries=1", contract_case.label(), "'loky'")
            return
        start = time.monotonic()
        assert call(tasks) == ["ok", "ok"]
        assert time.monotonic() - start < 30

    def test_task_timeout(self, contract_case: Case) -> None:
        call = contract_case.parallel(task_timeout=1, return_exceptions=True)
        tasks = [delayed(sleep_for)(s) for s in (0.01, 20, 0.01)]
        if contract_case.cell("``task_timeout``") == "no":
            # the sequential backend runs tasks here: the message says n_jobs=1
            where = "n_jobs=1" if contract_case.name == "sequential" else None
            assert_refused(
                call, tasks, "task_timeout=1", where or contract_case.label(), "'loky'"
            )
            return
        start = time.monotonic()
        first, late, last = call(tasks)
        assert (first, last) == (0.01, 0.01)
        assert isinstance(late, TaskTimeoutError)
        assert time.monotonic() - start < 15

    def test_a_hanging_task_is_retried_after_its_task_timeout(
        self, contract_case: Case, tmp_path: Path
    ) -> None:
        if contract_case.cell("``task_timeout``") == "no":
            pytest.skip("task_timeout is refused here (test_task_timeout)")
        call = contract_case.parallel(task_timeout=1, retries=1, retry_on=TimeoutError)
        assert call(delayed(hang_once)(str(tmp_path / "hang")) for _ in range(1)) == [
            "ok"
        ]

    def test_timeout(self, contract_case: Case) -> None:
        call = contract_case.parallel(timeout=0.5)
        tasks = [delayed(sleep_for)(s) for s in (0.01, 3)]
        if contract_case.cell("``timeout``") == "ignored":
            with pytest.warns(
                UserWarning, match="'timeout' parameter will not be used"
            ):
                assert call([delayed(sleep_for)(0.01)]) == [0.01]
            return
        if contract_case.cell("``timeout``") == "no":
            assert_refused(call, tasks, "timeout=0.5", contract_case.label(), "Use ")
            return
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            call(tasks)
        assert time.monotonic() - start < 2.5  # before the late task ends

    # -- workers ------------------------------------------------------------------------
    def test_max_tasks_per_child(self, contract_case: Case) -> None:
        call = contract_case.parallel(max_tasks_per_child=1)
        tasks = [delayed(pid_of)(i) for i in range(4)]
        if contract_case.cell("``max_tasks_per_child``") == "no":
            assert_refused(
                call, tasks, contract_case.label(), "cannot offer max_tasks_per_child"
            )
            return
        pids = call(tasks)
        assert len(set(pids)) == 4  # a new worker for each task

    def test_initializer(self, contract_case: Case) -> None:
        call = contract_case.parallel(initializer=set_marker_variable, initargs=("on",))
        tasks = [delayed(marker_variable)(i) for i in range(2)]
        if contract_case.cell("``initializer``") == "no":
            assert_refused(
                call, tasks, contract_case.label(), "cannot offer", "initializer"
            )
            return
        assert call(tasks) == ["on", "on"]

    def test_output_relay(
        self,
        contract_case: Case,
        capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.WARNING, logger="joblet.contract")
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert contract_case.parallel()(delayed(talk)(i) for i in range(2)) == [
                0,
                1,
            ]
        printed = capsys.readouterr().out
        relayed = [
            "printed by task 1" in printed,
            "logged by task 1" in caplog.text,
            any("warned by task 1" in str(w.message) for w in seen),
        ]
        expected = contract_case.cell("output relay") == "yes"
        assert relayed == [expected] * 3

    # -- pickling, batching, nesting ------------------------------------------------------
    def test_unpicklable_arguments(self, contract_case: Case) -> None:
        call = contract_case.parallel()
        tasks = [delayed(takes)(threading.Lock()) for _ in range(2)]
        if contract_case.cell("pickles arguments") == "no":
            assert call(tasks) == ["lock", "lock"]
            return
        with pytest.raises(Exception) as info:  # noqa: PT011 - checked below
            call(tasks)
        text = "".join(traceback.format_exception(info.value))
        assert "lock" in text
        assert "pickle" in text.lower() or "serialize" in text.lower()

    def test_unpicklable_results_with_return_exceptions(
        self, contract_case: Case
    ) -> None:
        out = contract_case.parallel(return_exceptions=True, batch_size=3)(
            delayed(lock_or_value)(i) for i in range(3)
        )
        assert (out[0], out[2]) == (0, 2)
        if contract_case.cell("pickles arguments") == "no":
            assert type(out[1]).__name__ == "lock"
        else:
            assert isinstance(out[1], ResultPicklingError)

    def test_batch_size_and_pre_dispatch(self, contract_case: Case) -> None:
        consumed: list[int] = []

        def tasks() -> Any:
            for i in range(40):
                consumed.append(i)
                yield delayed(square)(i)

        output = contract_case.parallel(
            batch_size=3, pre_dispatch=1, return_as="generator"
        )(tasks())
        assert next(output) == 0
        assert len(consumed) < 40  # the input is read a few batches ahead
        assert [0, *output] == [i * i for i in range(40)]

    def test_ctrl_c_while_waiting_stops_the_call(self, contract_case: Case) -> None:
        """SIGINT in the caller while tasks run: KeyboardInterrupt at once,
        and the backend serves the next call."""
        import signal

        call = contract_case.parallel(batch_size=1)
        tasks = [delayed(sleep_for)(3) for _ in range(4)]
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        start = time.monotonic()
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                call(tasks)
        finally:
            timer.cancel()
        assert time.monotonic() - start < 2.5
        assert contract_case.parallel()(delayed(square)(i) for i in range(3)) == [
            0,
            1,
            4,
        ]

    def test_nested_calls(self, contract_case: Case) -> None:
        assert contract_case.cell("nested calls") == "yes"
        assert contract_case.parallel()(delayed(nested_sum)(n) for n in (2, 3)) == [
            1,
            5,
        ]


def check_documented_matrix(matrix: dict[str, dict[str, str]]) -> None:
    """The table has every feature and backend of the contract, and only
    cells it knows."""
    assert tuple(matrix) == FEATURES
    for feature, row in matrix.items():
        assert tuple(row) == BACKENDS, feature
        assert set(row.values()) <= set(CELLS), (feature, row)


__all__ = [
    "BACKENDS",
    "FEATURES",
    "BackendContract",
    "Case",
    "check_documented_matrix",
    "documented_matrix",
    "render_matrix",
]
