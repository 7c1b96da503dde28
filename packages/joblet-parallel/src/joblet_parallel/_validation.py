"""Checks of Parallel and parallel_config arguments: each error names the
argument, the value received and what to pass instead."""

from __future__ import annotations

import ast
import functools
import numbers
import operator
import os
import threading
from typing import Any

from joblet_hash.names import suggest_name

N_JOBS_ZERO_MESSAGE = (
    "n_jobs == 0 has no meaning; use 1 (no parallelism), a number of workers, "
    "-1 (all CPUs) or None"
)


def check_n_jobs(n_jobs: Any) -> int | None:
    """``n_jobs`` as an int (or None), converted with ``int()`` as joblib does.

    ``2.0``, ``2.3`` and ``'2'`` mean 2; 0 (also ``0.5``), text that is not an
    integer and bools are refused.
    """
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool):
        raise TypeError(
            f"n_jobs must be an int (1, 4, -1 for all CPUs, -2 for all but one) or "
            f"None, got {n_jobs!r}"
        )
    try:
        value = int(n_jobs)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(
            f"n_jobs could not be converted to int: got {n_jobs!r} of type "
            f"{type(n_jobs).__name__}; pass an int (1, 4, -1 for all CPUs, -2 for "
            "all but one) or None"
        ) from None
    if value == 0:
        raise ValueError(f"{N_JOBS_ZERO_MESSAGE} (got {n_jobs!r})")
    return value


def check_effective_n_jobs(n_jobs: Any) -> None:
    """Refuse ``n_jobs == 0`` with joblet's message, for a backend's
    ``effective_n_jobs`` (public for backends written outside joblet).

    Parameters
    ----------
    n_jobs : int or None
        The ``n_jobs`` the backend was asked for.

    Raises
    ------
    ValueError
        If ``n_jobs`` is 0.
    """
    if n_jobs == 0:
        raise ValueError(N_JOBS_ZERO_MESSAGE)


# Arithmetic accepted in a pre_dispatch expression, as joblib's eval_expr.
_OPERATORS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
}
_MAX_EXPRESSION_VALUE = 10**6


def _evaluate(node: ast.AST) -> float:
    value: float
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if isinstance(node.value, bool):
            raise TypeError(node)
        value = node.value
    elif isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        value = _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        value = _OPERATORS[type(node.op)](_evaluate(node.operand))
    else:
        raise TypeError(node)
    if abs(value) > _MAX_EXPRESSION_VALUE:
        raise OverflowError(value)
    return value


# CPython 3.11's parser is not safe to call from several threads at once
# ("AST constructor recursion depth mismatch" when Parallel is called from many
# threads): parse under a lock, once per distinct expression.
_parse_lock = threading.Lock()


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> ast.expr:
    with _parse_lock:
        return ast.parse(text, mode="eval").body


def parse_pre_dispatch(pre_dispatch: Any, n_jobs: int) -> int | None:
    """Number of batches dispatched ahead (None for ``'all'``), at least 1.

    Accepts what joblib accepts: ``'all'``, a number, or an arithmetic expression
    of ``n_jobs`` (``'2*n_jobs'``, ``'n_jobs + 4'``, ``'3 * n_jobs // 2'``).
    """
    if isinstance(pre_dispatch, bool):
        raise TypeError(
            f"pre_dispatch must be 'all', an int or 'k*n_jobs', got {pre_dispatch!r}"
        )
    if isinstance(pre_dispatch, str):
        if pre_dispatch.strip() == "all":
            return None
        text = pre_dispatch.replace("n_jobs", str(n_jobs))
        try:
            if len(text) > 100:
                raise OverflowError(text)
            value: Any = _evaluate(_parsed(text.strip()))
        except (TypeError, SyntaxError, OverflowError, ZeroDivisionError, ValueError):
            raise ValueError(
                "pre_dispatch must be 'all', an int or an arithmetic expression of "
                f"n_jobs such as '2*n_jobs' or 'n_jobs + 4', got {pre_dispatch!r}"
            ) from None
    elif isinstance(pre_dispatch, numbers.Real):
        value = pre_dispatch
    else:
        raise TypeError(
            f"pre_dispatch must be 'all', an int or 'k*n_jobs', got {pre_dispatch!r}"
        )
    if not value > 0:
        raise ValueError(
            f"pre_dispatch must be 'all' or a number > 0, got {pre_dispatch!r}"
            + (
                f" (= {value} with n_jobs={n_jobs})"
                if isinstance(pre_dispatch, str)
                else ""
            )
        )
    return max(1, int(value))


#: The values each option of Parallel and parallel_config that takes one of a
#: few may take (the one home of these lists; ``mmap_mode``'s is joblet-persist's
#: ``MMAP_MODES``, imported when checked, so that workers never load persist).
CHOICES: dict[str, tuple[Any, ...]] = {
    "prefer": (None, "processes", "threads"),
    "require": (None, "sharedmem"),
    "return_as": ("list", "generator", "generator_unordered"),
}


def check_choice(name: str, value: Any) -> Any:
    """``value`` if it is one of the allowed values of ``name``, else a ValueError
    listing them (and the closest)."""
    if name == "mmap_mode":
        from joblet_persist import MMAP_MODES

        allowed: tuple[Any, ...] = MMAP_MODES
    else:
        allowed = CHOICES[name]
    if value not in allowed:
        listed = ", ".join(repr(choice) for choice in allowed)
        close = suggest_name(value, [c for c in allowed if isinstance(c, str)])
        hint = f" (did you mean {close!r}?)" if close is not None else ""
        raise ValueError(f"{name} must be one of {listed}; got {value!r}{hint}")
    return value


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
    if hasattr(backend, "Pool") and hasattr(backend, "get_start_method"):
        return  # a multiprocessing context: the multiprocessing backend with it
    if not all(
        callable(getattr(backend, name, None))
        for name in ("configure", "effective_n_jobs")
    ):
        raise TypeError(
            "backend must be a backend name such as 'loky', 'threading' or "
            "'sequential', or an instance of a ParallelBackendBase subclass, got "
            f"{backend!r} of type {type(backend).__name__}"
        )


#: Options of process workers, and the backends that offer them.
WORKER_OPTIONS = {
    "initializer": "'loky' or 'multiprocessing'",
    "initargs": "'loky' or 'multiprocessing'",
    "max_tasks_per_child": "'loky' or 'multiprocessing'",
    "forward_output": "'loky'",
    "prefix_output": "'loky'",
    "idle_worker_timeout": "'loky'",
    "max_memory_growth": "'loky'",
    "memory_check_interval": "'loky'",
    "reducers": "'loky'",
}


def refuse_worker_options(backend: Any, options: dict[str, Any]) -> None:
    """Refuse process-worker options that ``backend.configure`` does not name
    (a backend written for joblib ignores unknown keyword arguments)."""
    import inspect

    asked = [name for name in options if name in WORKER_OPTIONS]
    if not asked:
        return
    named = getattr(backend, "configure_options", None)
    try:
        parameters = (
            named()
            if callable(named)
            else inspect.signature(backend.configure).parameters
        )
    except (TypeError, ValueError):  # pragma: no cover - a C-level callable
        return
    missing = {name: options[name] for name in asked if name not in parameters}
    refuse_unknown_options(backend, missing, "keyword arguments")


def refuse_unknown_options(backend: Any, options: dict[str, Any], where: str) -> None:
    """Built-in backends take no other option: a typo must not pass silently,
    and an option another backend offers names that backend."""
    offered = sorted(name for name in options if name in WORKER_OPTIONS)
    if offered and type(backend).__name__ != "ProcessBackend":
        homes = "; ".join(f"{name}: {WORKER_OPTIONS[name]}" for name in offered)
        raise ValueError(
            f"{type(backend).__name__} cannot offer {', '.join(offered)}, options "
            f"of process workers; use a backend that has them ({homes})"
        )
    if options:
        raise TypeError(
            f"{type(backend).__name__} got unexpected {where} "
            f"{', '.join(sorted(options))}; check the spelling (Parallel and "
            "parallel_config pass unknown keyword arguments to the backend)"
        )
