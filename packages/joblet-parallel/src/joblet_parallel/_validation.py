"""Checks of Parallel and parallel_config arguments: each error names the
argument, the value received and what to pass instead."""

from __future__ import annotations

import numbers
import os
from typing import Any


def check_n_jobs(n_jobs: Any) -> int | None:
    """``n_jobs`` as an int (or None); 0, floats, strings and bools are refused."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(
            f"n_jobs must be an int (1, 4, -1 for all CPUs, -2 for all but one) or "
            f"None, got {n_jobs!r} of type {type(n_jobs).__name__}"
        )
    if n_jobs == 0:
        raise ValueError(
            "n_jobs == 0 has no meaning; use 1 (no parallelism), a number of "
            "workers, -1 (all CPUs) or None"
        )
    return int(n_jobs)


def check_verbose(verbose: Any) -> int:
    """``verbose`` as an int >= 0 (None and False mean 0)."""
    if verbose is None:
        return 0
    if not isinstance(verbose, numbers.Integral) or verbose < 0:
        raise TypeError(
            f"verbose must be an int >= 0 (0: silent, 10: every batch, 50 and more: "
            f"to stdout), got {verbose!r}"
        )
    return int(verbose)


def check_timeout(timeout: Any) -> float | None:
    """``timeout`` in seconds: None or a number > 0."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(
            f"timeout must be a number of seconds or None, got {timeout!r} of type "
            f"{type(timeout).__name__}"
        )
    if not float(timeout) > 0:
        raise ValueError(
            f"timeout must be > 0 seconds (None for no limit), got {timeout!r}"
        )
    return float(timeout)


def check_batch_size(batch_size: Any) -> Any:
    """``'auto'`` or an int >= 1."""
    if batch_size == "auto" and isinstance(batch_size, str):
        return batch_size
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(
            f"batch_size must be 'auto' or an int >= 1, got {batch_size!r}"
        )
    return int(batch_size)


def check_temp_folder(temp_folder: Any) -> Any:
    """None, a str or an ``os.PathLike``."""
    if temp_folder is not None and not isinstance(temp_folder, (str, os.PathLike)):
        raise TypeError(
            f"temp_folder must be a path (str or pathlib.Path) or None, got "
            f"{temp_folder!r} of type {type(temp_folder).__name__}"
        )
    return temp_folder


def check_backend(backend: Any) -> None:
    """A name, None, or an object following the backend protocol."""
    if backend is None or isinstance(backend, str):
        return
    if not all(
        callable(getattr(backend, name, None))
        for name in ("configure", "effective_n_jobs")
    ):
        raise TypeError(
            "backend must be a backend name such as 'loky', 'threading' or "
            "'sequential', or an instance of a ParallelBackendBase subclass, got "
            f"{backend!r} of type {type(backend).__name__}"
        )


def refuse_unknown_options(backend: Any, options: dict[str, Any], where: str) -> None:
    """Built-in backends take no other option: a typo must not pass silently."""
    if options:
        raise TypeError(
            f"{type(backend).__name__} got unexpected {where} "
            f"{', '.join(sorted(options))}; check the spelling (Parallel and "
            "parallel_config pass unknown keyword arguments to the backend)"
        )
