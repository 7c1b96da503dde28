"""Charts of the Performance page, drawn from ``docs/bench/latest.json``.

``nox -s bench -- --docs`` writes that file (one run of every ``tools/bench_*.py``
with its date and machine); the page calls these functions through matplotlib's
``plot`` directive, so the charts always show the checked-in numbers.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

LATEST = Path(__file__).resolve().parent / "bench" / "latest.json"
JOBLET_COLOR, REFERENCE_COLOR, OTHER_COLOR = "#1f77b4", "#ff7f0e", "#8c8c8c"


def _run() -> dict[str, Any]:
    return json.loads(LATEST.read_text())


def _caption(axes: plt.Axes, run: dict[str, Any]) -> None:
    axes.figure.text(
        0.99,
        0.01,
        f"{run['date']}, {run['machine']}",
        ha="right",
        va="bottom",
        fontsize=7,
        color="gray",
    )


def _shorten(label: str, width: int = 48) -> str:
    return label if len(label) <= width else label[: width - 3] + "..."


def ratios() -> None:
    """joblet's advantage over joblib 1.6, one bar per figure (log scale)."""
    run = _run()
    rows = [r for r in run["rows"] if "joblib" in r["reference_name"]]
    rows.sort(key=lambda r: r["speedup"])
    fig, axes = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.2))
    speedups = [min(r["speedup"], 1000.0) for r in rows]
    colors = [JOBLET_COLOR if s >= 1 else REFERENCE_COLOR for s in speedups]
    labels = [_shorten(r["figure"]) for r in rows]
    axes.barh(labels, speedups, color=colors)
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_xlabel(
        "joblet advantage over joblib 1.6 (x, log scale; > 1: joblet better)"
    )
    for y, value in enumerate(speedups):
        axes.text(value * 1.05, y, f"{value:.3g}x", va="center", fontsize=7)
    axes.tick_params(axis="y", labelsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    _caption(axes, run)


def _paired_bars(
    axes: plt.Axes, labels: list[str], joblet: list[float], reference: list[float]
) -> None:
    positions = range(len(labels))
    axes.bar(
        [p - 0.2 for p in positions], joblet, 0.4, label="joblet", color=JOBLET_COLOR
    )
    axes.bar(
        [p + 0.2 for p in positions],
        reference,
        0.4,
        label="joblib 1.6",
        color=REFERENCE_COLOR,
    )
    axes.set_xticks(list(positions), labels, fontsize=8)
    axes.legend(fontsize=8)


def throughput() -> None:
    """Hashing speed per algorithm and dump/load speed per codec, GB/s."""
    run = _run()
    rows = run["rows"]
    fig, (hashing, codecs) = plt.subplots(1, 2, figsize=(10, 3.8))

    hash_rows = [
        r for r in rows if re.match(r"hash \d+ MB float64 array \((\w+)\)", r["figure"])
    ]
    labels = [r["figure"].rsplit("(", 1)[1].rstrip(")") for r in hash_rows]
    hashing.bar(labels, [r["joblet"] for r in hash_rows], color=JOBLET_COLOR)
    if hash_rows:
        hashing.axhline(
            hash_rows[0]["reference"],
            color=REFERENCE_COLOR,
            linestyle="--",
            label=f"{hash_rows[0]['reference_name']}",
        )
        hashing.legend(fontsize=8)
    hashing.set_ylabel("GB/s (higher is better)")
    hashing.set_title("Hashing a large float64 array", fontsize=10)

    labels, ours, theirs = [], [], []
    for r in rows:
        codec = re.match(
            r"(?:(\S+) )?(dump|load) (\d+) ([MG])B (float64|mix)$", r["figure"]
        )
        if codec is None or not r["reference_name"].startswith("joblib"):
            continue
        name, operation, size, scale, _ = codec.groups()
        gigabytes = int(size) / (1 if scale == "G" else 1000)
        labels.append(f"{name or 'raw'}\n{operation}")
        ours.append(gigabytes / r["joblet"])
        theirs.append(gigabytes / r["reference"])
    _paired_bars(codecs, labels, ours, theirs)
    codecs.set_ylabel("GB/s of data (higher is better)")
    codecs.set_title("dump / load per codec", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _caption(codecs, run)


def tiny_tasks() -> None:
    """Throughput of tiny tasks per ``n_jobs``: joblet and every reference measured.

    One bar per contender, each labelled with its own reference name (joblib 1.6,
    a chunked ``ProcessPoolExecutor.map``, mpire, ...), grouped by ``n_jobs``.
    """
    run = _run()
    groups: dict[int, dict[str, float]] = {}
    for r in run["rows"]:
        match = re.search(r"tiny tasks, n_jobs=(\d+)", r["figure"])
        if match and r["unit"] == "tasks/s":
            group = groups.setdefault(int(match.group(1)), {"joblet": r["joblet"]})
            group[r["reference_name"]] = r["reference"]
    labels: list[str] = []
    values: list[float] = []
    colors: list[str] = []
    for n_jobs in sorted(groups):
        for name, value in groups[n_jobs].items():
            labels.append(textwrap.fill(f"n_jobs={n_jobs}: {name}", 36))
            values.append(value / 1e3)
            colors.append(
                JOBLET_COLOR
                if name == "joblet"
                else REFERENCE_COLOR
                if name.startswith("joblib")
                else OTHER_COLOR
            )
    fig, axes = plt.subplots(figsize=(8, 0.42 * len(labels) + 1.3))
    positions = list(range(len(labels)))[::-1]  # the first contender on top
    axes.barh(positions, values, color=colors)
    axes.set_yticks(positions, labels, fontsize=7)
    for y, value in zip(positions, values, strict=True):
        axes.text(value, y, f" {value:,.0f}k", va="center", fontsize=7)
    axes.set_xlim(0, max(values, default=1) * 1.15)
    axes.set_xlabel("thousand tasks/s (higher is better)")
    axes.set_title(
        "Tiny tasks, delayed(abs)(i) (n_jobs=2: process workers, warm pool)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _caption(axes, run)
