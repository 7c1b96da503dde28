"""Shared helpers for the benchmarks in tools/ (standard library only).

How we measure on a noisy, shared 2-core machine:

* contenders run **alternately in one process**, several repetitions, and we
  report medians and the ratio against the reference (joblib 1.6, numpy, pickle,
  a raw executor or plain s3fs: whatever joblet replaces), > 1 when joblet is
  better;
* before a timed step that allocates a large buffer, :func:`touch_memory`
  allocates and frees that much for every contender alike, because this VM hands
  freed memory back to its host and re-faulting it costs ~0.8 s per GB;
* results are checked outside the timed region;
* peak memory is read in a child process (:func:`peak_rss_of_child`).

A benchmark module defines ``run(quick: bool) -> list[Row]`` and ends with
``if __name__ == "__main__": main(run)``. ``tools/bench.py`` runs them all.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass


@dataclass
class Row:
    """One figure: joblet against its reference, both in ``unit``."""

    figure: str
    joblet: float
    reference_name: str  # "joblib 1.6", "numpy.save", "pickle 5", "ideal" ...
    reference: float
    unit: str  # "s", "ms", "us", "GB/s", "MB", "tasks/s" ...
    higher_is_better: bool = False

    @property
    def speedup(self) -> float:
        """How many times better joblet is than the reference (> 1 is better)."""
        if self.higher_is_better:
            return self.joblet / self.reference if self.reference else float("inf")
        return self.reference / self.joblet if self.joblet else float("inf")


# Units of time, in seconds; a figure in any of them is shown in the largest
# unit that keeps it at 1 or more ("118 µs", "3.53 ms", "1.39 s").
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_COUNT_SUFFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"))


def _three_digits(value: float) -> str:
    """``value`` with 3 significant digits and no exponent: 0.0012, 12.3, 1234."""
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 1e-3 else f"{value:.1e}"


def human(value: float, unit: str) -> str:
    """A figure for people: ``human(3.196e5, "tasks/s") == "320k tasks/s"``.

    Times move to the unit that suits them (also in ``us/task``-style rates),
    counts per second get k/M/G suffixes, other units keep 3 significant digits.
    """
    if value != value or value in (float("inf"), float("-inf")):
        return f"{value} {unit}"
    base, _, per = unit.partition("/")
    if base in _SECONDS:
        seconds = value * _SECONDS[base]
        for name, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
            if abs(seconds) >= scale or name == "µs":
                shown = f"{_three_digits(seconds / scale)} {name}"
                return f"{shown}/{per}" if per else shown
    if per == "s" and base not in ("GB", "MB", "kB"):  # a count per second
        for scale, suffix in _COUNT_SUFFIXES:
            if abs(value) >= scale:
                return f"{_three_digits(value / scale)}{suffix} {unit}"
    if unit.startswith("x"):  # "x", "x data": a multiple
        return f"{_three_digits(value)}{unit}"
    return f"{_three_digits(value)} {unit}"


def ratio(value: float) -> str:
    """A ratio for people: ``2.35x``, ``0.61x``, ``34x``."""
    if value == float("inf"):  # joblet's figure is 0 (e.g. no memory growth)
        return "joblet at 0"
    return f"{value:.0f}x" if value >= 100 else f"{value:.3g}x"


def touch_memory(nbytes: int) -> None:
    """Fault in and release ``nbytes`` so the next large allocation is warm."""
    buffer = b"\x01" * nbytes  # filled, so every page is really faulted in
    del buffer


def alternate(
    contenders: dict[str, Callable[[], object]],
    repeat: int,
    before_each: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Median wall time of each callable, timed in alternation ``repeat`` times."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, func in contenders.items():
            if before_each is not None:
                before_each()
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def per_call(
    contenders: dict[str, Callable[[], object]],
    calls: int,
    repeat: int,
    both_orders: bool = False,
) -> dict[str, float]:
    """Median seconds per call of each callable, timed ``calls`` calls in a row.

    For fast calls (a cache hit), where one call is too short to time alone.
    The contenders alternate ``repeat`` times; with ``both_orders`` the whole
    alternation runs again in reverse order and the two are averaged, so that
    whoever runs first pays no more (a file system settling, a cache warming).
    """

    def in_a_row(func: Callable[[], object]) -> Callable[[], object]:
        return lambda: [func() for _ in range(calls)]

    looped = {name: in_a_row(func) for name, func in contenders.items()}
    times = alternate(looped, repeat)
    if both_orders:
        backward = alternate(dict(reversed(list(looped.items()))), repeat)
        times = {name: (times[name] + backward[name]) / 2 for name in looped}
    return {name: value / calls for name, value in times.items()}


def peak_rss_of_child(code: str) -> float:
    """Run ``code`` in a fresh interpreter; return its peak RSS in bytes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-c", code], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all waited-for children; a larger
    # earlier child would hide this one, so benchmarks run the biggest last.
    return max(after, before) * 1024.0


def machine_description() -> str:
    import os

    cpus = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count()
    )
    return f"{platform.machine()}, {cpus} CPUs, Python {platform.python_version()}, {platform.system()}"


def format_table(rows: Sequence[Row]) -> str:
    lines = [
        "| figure | joblet | reference | reference value | joblet advantage |",
        "|---|---:|---|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.figure} | {human(row.joblet, row.unit)} | {row.reference_name} | "
            f"{human(row.reference, row.unit)} | {ratio(row.speedup)} |"
        )
    return "\n".join(lines)


def main(run: Callable[[bool], list[Row]]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes, fewer repeats"
    )
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    args = parser.parse_args()
    rows = run(args.quick)
    print(f"machine: {machine_description()}")
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump([asdict(row) for row in rows], handle, indent=2)
