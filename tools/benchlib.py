"""Shared helpers for the benchmarks in tools/ (standard library only).

How we measure on a noisy, shared 2-core machine:

* contenders run **alternately in one process**, several repetitions, and we
  report medians and the ratio (joblet time / anchor time, lower is better);
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
    """One figure: joblet against its anchor, both in ``unit``."""

    figure: str
    joblet: float
    anchor_name: str
    anchor: float
    unit: str  # "s", "ms", "us", "GB/s", "MB", "tasks/s" ...
    higher_is_better: bool = False

    @property
    def speedup(self) -> float:
        """How many times better joblet is than the anchor (> 1 is better)."""
        if self.higher_is_better:
            return self.joblet / self.anchor if self.anchor else float("inf")
        return self.anchor / self.joblet if self.joblet else float("inf")


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
        "| figure | joblet | anchor | anchor value | joblet advantage |",
        "|---|---:|---|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.figure} | {row.joblet:.4g} {row.unit} | {row.anchor_name} | "
            f"{row.anchor:.4g} {row.unit} | {row.speedup:.2f}x |"
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
