"""Parallel loops: joblet_parallel against joblib 1.6, side by side.

Figures (medians of alternating runs in this process, or of fresh interpreters):

* 200k tiny tasks (``delayed(abs)(i)``), n_jobs=2, process backend, warm pool
  (worker output forwarding on, the default), timed in alternation with joblib
  1.6, a chunked ``ProcessPoolExecutor.map`` (200 chunks) of ``abs`` over the
  integers, the same executor given the very ``delayed(abs)(i)`` generator that
  Parallel gets (same work), and mpire when installed;
* the same with n_jobs=1;
* the first Parallel call in a fresh interpreter (worker start), import excluded;
* 64 tasks of ``model.predict`` (2 ms each) of a model of 200k small Python
  objects (5 MB pickled): the function pickled per batch (joblib) or once per
  call and worker (joblet);
* 40 x ``sleep(0.05)`` on 2 workers (ideal: 1.0 s);
* ``import joblet_parallel`` against ``import joblib``.

Usage: ``python tools/bench_parallel.py [--quick] [--json out.json]``
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import joblib
from benchlib import Row, alternate, main

import joblet_parallel


def _tiny(module, n_tasks, n_jobs):
    def run():
        out = module.Parallel(n_jobs=n_jobs)(
            module.delayed(abs)(i) for i in range(n_tasks)
        )
        if len(out) != n_tasks:
            raise AssertionError("wrong number of results")

    return run


def _executor_map(executor, n_tasks):
    def run():
        out = list(executor.map(abs, range(n_tasks), chunksize=max(1, n_tasks // 200)))
        if len(out) != n_tasks:
            raise AssertionError("wrong number of results")

    return run


def _run_task(task):
    func, args, kwargs = task
    return func(*args, **kwargs)


def _executor_same_work(executor, n_tasks):
    """The executor given what Parallel is given: the caller's generator of
    ``delayed(abs)(i)`` tasks, run by a module-level function."""

    def run():
        tasks = (joblet_parallel.delayed(abs)(i) for i in range(n_tasks))
        out = list(executor.map(_run_task, tasks, chunksize=max(1, n_tasks // 200)))
        if len(out) != n_tasks:
            raise AssertionError("wrong number of results")

    return run


def _mpire_map(pool, n_tasks):
    def run():
        if len(pool.map(abs, range(n_tasks))) != n_tasks:
            raise AssertionError("wrong number of results")

    return run


def _tiny_rows(n_tasks: int, repeat: int) -> list[Row]:
    """joblet, joblib, a chunked ProcessPoolExecutor.map and mpire, alternating."""
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(2)
    contenders = {
        "joblet": _tiny(joblet_parallel, n_tasks, 2),
        "joblib": _tiny(joblib, n_tasks, 2),
        "executor": _executor_map(executor, n_tasks),
        "executor, same tasks": _executor_same_work(executor, n_tasks),
    }
    mpire_pool = None
    try:
        import mpire

        mpire_pool = mpire.WorkerPool(2, keep_alive=True)
        contenders["mpire"] = _mpire_map(mpire_pool, n_tasks)
    except ImportError:
        pass
    try:
        for warm in contenders.values():  # warm every pool: the figure is warm
            warm()
        times = alternate(contenders, repeat)
    finally:
        executor.shutdown()
        if mpire_pool is not None:
            mpire_pool.terminate()
    figure = f"{n_tasks // 1000}k tiny tasks, n_jobs=2, processes, warm pool"
    rows = [
        Row(
            figure,
            n_tasks / times["joblet"],
            "joblib 1.6",
            n_tasks / times["joblib"],
            "tasks/s",
            higher_is_better=True,
        ),
        Row(
            figure,
            n_tasks / times["joblet"],
            "ProcessPoolExecutor.map, 200 chunks",
            n_tasks / times["executor"],
            "tasks/s",
            higher_is_better=True,
        ),
    ]
    rows.append(
        Row(
            figure,
            n_tasks / times["joblet"],
            "ProcessPoolExecutor.map of the same delayed tasks, 200 chunks",
            n_tasks / times["executor, same tasks"],
            "tasks/s",
            higher_is_better=True,
        )
    )
    if "mpire" in times:
        rows.append(
            Row(
                figure,
                n_tasks / times["joblet"],
                "mpire 2.10 map",
                n_tasks / times["mpire"],
                "tasks/s",
                higher_is_better=True,
            )
        )
    return rows


class Model:
    """A fitted model of many small Python objects (like a tree ensemble's
    nodes): about 5 MB pickled, 70-90 ms to pickle and as long to unpickle."""

    def __init__(self, n_nodes: int) -> None:
        self.nodes = [
            {"feature": i % 7, "threshold": i * 0.5, "left": i + 1}
            for i in range(n_nodes)
        ]

    def predict(self, i: int) -> float:
        time.sleep(0.002)
        return self.nodes[i]["threshold"]


def _model_calls(module, model):
    def run():
        with module.Parallel(n_jobs=2) as parallel:
            parallel(module.delayed(model.predict)(i) for i in range(64))

    return run


def _sleeps(module):
    def run():
        module.Parallel(n_jobs=2)(module.delayed(time.sleep)(0.05) for _ in range(40))

    return run


_FIRST_CALL = """
import time
from {module} import Parallel, delayed
start = time.perf_counter()
out = Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(10))
elapsed = time.perf_counter() - start
assert out == list(range(10))
print(elapsed)
"""

_IMPORT = """
import time
start = time.perf_counter()
import {module}
print(time.perf_counter() - start)
"""


def _fresh(template: str, module: str) -> float:
    code = template.format(module=module)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(out.stdout.split()[-1])


def _fresh_alternating(template: str, repeat: int) -> tuple[float, float]:
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(_fresh(template, "joblet_parallel"))
        theirs.append(_fresh(template, "joblib"))
    return statistics.median(ours), statistics.median(theirs)


def _print_load(when: str) -> None:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average {when}: {load}", file=sys.stderr)


def run(quick: bool) -> list[Row]:
    _print_load("at the start")
    try:
        return _run(quick)
    finally:
        _print_load("at the end")


def _run(quick: bool) -> list[Row]:
    n_tasks = 50_000 if quick else 200_000
    repeat = 3 if quick else 5
    rows: list[Row] = []

    rows.extend(_tiny_rows(n_tasks, repeat))
    times = alternate(
        {
            "joblet": _tiny(joblet_parallel, n_tasks, 1),
            "joblib": _tiny(joblib, n_tasks, 1),
        },
        repeat,
    )
    rows.append(
        Row(
            f"{n_tasks // 1000}k tiny tasks, n_jobs=1",
            n_tasks / times["joblet"],
            "joblib 1.6",
            n_tasks / times["joblib"],
            "tasks/s",
            higher_is_better=True,
        )
    )
    n_nodes = 50_000 if quick else 200_000
    model = Model(n_nodes)
    times = alternate(
        {
            "joblet": _model_calls(joblet_parallel, model),
            "joblib": _model_calls(joblib, model),
        },
        repeat,
    )
    rows.append(
        Row(
            f"64 x model.predict (2 ms each), model of {n_nodes // 1000}k objects",
            times["joblet"],
            "joblib 1.6",
            times["joblib"],
            "s",
        )
    )
    times = alternate(
        {"joblet": _sleeps(joblet_parallel), "joblib": _sleeps(joblib)},
        2 if quick else 3,
    )
    rows.append(
        Row(
            "40 x sleep(0.05) on 2 workers (ideal 1.0 s)",
            times["joblet"],
            "joblib 1.6",
            times["joblib"],
            "s",
        )
    )
    ours, theirs = _fresh_alternating(_FIRST_CALL, 3 if quick else 5)
    rows.append(
        Row(
            "first Parallel call in a fresh interpreter",
            ours,
            "joblib 1.6",
            theirs,
            "s",
        )
    )
    ours, theirs = _fresh_alternating(_IMPORT, 3 if quick else 5)
    rows.append(
        Row(
            "import joblet_parallel / import joblib",
            ours * 1000,
            "joblib 1.6",
            theirs * 1000,
            "ms",
        )
    )
    return rows


if __name__ == "__main__":
    main(run)
