"""Parallel loops: joblet_parallel against joblib 1.6, side by side.

Figures (medians of alternating runs in this process, or of fresh interpreters):

* 200k tiny tasks (``delayed(abs)(i)``), n_jobs=2, process backend, warm pool;
* the same with n_jobs=1;
* the first Parallel call in a fresh interpreter (worker start), import excluded;
* 40 x ``sleep(0.05)`` on 2 workers (ideal: 1.0 s);
* ``import joblet_parallel`` against ``import joblib``.

Usage: ``python tools/bench_parallel.py [--quick] [--json out.json]``
"""

from __future__ import annotations

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


def run(quick: bool) -> list[Row]:
    n_tasks = 50_000 if quick else 200_000
    repeat = 3 if quick else 5
    rows: list[Row] = []

    # Warm both pools first: the figure is about a warm pool.
    _tiny(joblet_parallel, 1000, 2)()
    _tiny(joblib, 1000, 2)()
    times = alternate(
        {
            "joblet": _tiny(joblet_parallel, n_tasks, 2),
            "joblib": _tiny(joblib, n_tasks, 2),
        },
        repeat,
    )
    rows.append(
        Row(
            f"{n_tasks // 1000}k tiny tasks, n_jobs=2, processes, warm pool",
            n_tasks / times["joblet"],
            "joblib 1.6",
            n_tasks / times["joblib"],
            "tasks/s",
            higher_is_better=True,
        )
    )
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
