"""Diagrams of the guides, drawn with matplotlib by the ``plot`` directive."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

BLUE, ORANGE, GREEN, GRAY = "#1f77b4", "#ff7f0e", "#2ca02c", "#7f7f7f"


def _box(
    axes: plt.Axes, x: float, y: float, w: float, h: float, text: str, color: str
) -> None:
    axes.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=color,
            edgecolor="black",
            linewidth=0.6,
            alpha=0.85,
        )
    )
    axes.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=7.5)


def _arrow(
    axes: plt.Axes, start: tuple[float, float], end: tuple[float, float], text: str = ""
) -> None:
    axes.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, linewidth=0.8)
    )
    if text:
        middle = ((start[0] + end[0]) / 2, max(start[1], end[1]) + 0.15)
        axes.text(*middle, text, ha="center", va="bottom", fontsize=6.5, color=GRAY)


def batching_and_memmapping() -> None:
    """Left: auto-batching of tiny tasks. Right: one large array, memory-mapped."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for axes in (left, right):
        axes.set_xlim(0, 10)
        axes.set_ylim(0, 6)
        axes.axis("off")

    left.set_title("Auto-batching: tasks travel in batches", fontsize=9)
    left.text(0.2, 5.4, "delayed(f)(x) for x in data", fontsize=7.5, family="monospace")
    # Batches grow while they finish fast, until one takes about 0.2-1 s.
    x = 0.2
    for size in (1, 1, 2, 4, 8):
        width = 0.3 * size
        _box(left, x, 4.2, width, 0.7, str(size), BLUE)
        x += width + 0.1
    left.text(
        x + 0.1,
        4.55,
        "... batch size grows\nuntil a batch takes\n0.2-1 s",
        fontsize=6.5,
        va="center",
    )
    _box(
        left,
        0.2,
        2.2,
        3.0,
        1.0,
        "dispatch queue\n(at most pre_dispatch\nbatches ahead)",
        "#dddddd",
    )
    _arrow(left, (1.5, 4.1), (1.5, 3.3))
    for row, name in enumerate(("worker 1", "worker 2")):
        _box(left, 5.2, 2.9 - 1.5 * row, 2.0, 0.9, name, GREEN)
        _arrow(left, (3.3, 2.7), (5.1, 3.35 - 1.5 * row))
    left.text(
        4.2, 1.2, "one batch =\none message", fontsize=6.5, color=GRAY, ha="center"
    )
    _box(left, 8.0, 1.7, 1.8, 1.2, "results,\nin input\norder", ORANGE)
    _arrow(left, (7.3, 3.3), (8.0, 2.5))
    _arrow(left, (7.3, 1.8), (8.0, 2.1))

    right.set_title(
        "Memmapping: a large array is written once, mapped by all", fontsize=9
    )
    _box(right, 0.2, 4.2, 2.6, 1.1, "main process\nnp.ndarray\n(>= max_nbytes)", BLUE)
    _box(
        right,
        3.9,
        4.2,
        3.8,
        1.1,
        "/dev/shm (or temp_folder):\none file per array",
        "#dddddd",
    )
    _arrow(right, (2.9, 4.75), (3.8, 4.75))
    right.text(3.35, 5.5, "dumped\nonce", fontsize=6.5, color=GRAY, ha="center")
    for column, name in enumerate(("worker 1", "worker 2")):
        x = 3.2 + 2.6 * column
        _box(right, x, 1.0, 2.2, 1.2, f"{name}\nnp.memmap\n(mmap_mode='r')", GREEN)
        _arrow(right, (5.8, 4.1), (x + 1.1, 2.3))
    right.text(
        5.8, 3.1, "each task gets\na reference", fontsize=6.5, color=GRAY, ha="center"
    )
    right.text(
        0.2,
        0.35,
        "Small arguments are pickled as usual; the same array passed to many tasks is "
        "written once.",
        fontsize=6.5,
        color=GRAY,
    )
    fig.tight_layout()
