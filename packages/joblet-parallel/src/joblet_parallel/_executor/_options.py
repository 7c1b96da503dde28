"""Checks of the process executor's worker options, with errors naming the fix."""

from __future__ import annotations

import numbers
from typing import Any


def check_worker_options(
    forward_output: Any, prefix_output: Any, max_tasks_per_child: Any
) -> None:
    for name, value in (
        ("forward_output", forward_output),
        ("prefix_output", prefix_output),
    ):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    if max_tasks_per_child is None:
        return
    if (
        isinstance(max_tasks_per_child, bool)
        or not isinstance(max_tasks_per_child, numbers.Integral)
        or max_tasks_per_child < 1
    ):
        raise ValueError(
            "max_tasks_per_child must be a positive int (a worker is replaced "
            f"after that many tasks) or None, got {max_tasks_per_child!r}"
        )
