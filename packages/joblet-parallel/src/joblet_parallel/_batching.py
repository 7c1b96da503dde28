"""BatchedCalls: several tasks sent to a worker as one unit."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from ._config import restore, set_nested
from ._failures import FailurePolicy, run_task

Task = tuple[Any, tuple[Any, ...], dict[str, Any]]
_first, _second, _third = itemgetter(0), itemgetter(1), itemgetter(2)


class BatchedCalls:
    """A list of ``(func, args, kwargs)`` tasks run in order by one worker.

    Calling it returns the list of results. Inside the worker, ``Parallel`` calls
    made by the tasks see the nested backend of the outer backend (the rule that
    prevents over-subscription).

    On the wire a batch whose tasks share one function is sent as that function
    once and a list of argument tuples (and keyword dicts only if a task has
    keywords), and the worker runs it in that form: per task, pickling and
    unpickling then cost a tuple instead of a ``(func, args, {})`` triple with its
    own dict (about 8x less for tiny tasks). ``time_limit`` (seconds per task, or
    None) is read by the executor and is not sent.
    """

    __slots__ = (
        "_columns",
        "_items",
        "max_n_jobs",
        "nested_backend",
        "policy",
        "time_limit",
    )

    def __init__(
        self,
        items: list[Task],
        nested_backend: Any = None,
        max_n_jobs: int | None = None,
        policy: FailurePolicy | None = None,
    ) -> None:
        self._items: list[Task] | None = items
        self.policy = policy if policy is not None and policy.active else None
        # (func, [args, ...], [kwargs, ...] or None) once sent in one-function form
        self._columns: tuple[Any, list[tuple[Any, ...]], Any] | None = None
        self.nested_backend = nested_backend
        self.max_n_jobs = max_n_jobs
        self.time_limit: float | None = None

    @classmethod
    def _from_columns(
        cls,
        func: Any,
        args: list[tuple[Any, ...]],
        kwargs: list[dict[str, Any]] | None,
        nested_backend: Any,
        max_n_jobs: int | None,
        policy: FailurePolicy | None = None,
    ) -> BatchedCalls:
        batch = cls.__new__(cls)
        batch.policy = policy
        batch._items = None
        batch._columns = (func, args, kwargs)
        batch.nested_backend = nested_backend
        batch.max_n_jobs = max_n_jobs
        batch.time_limit = None
        return batch

    @property
    def items(self) -> list[Task]:
        """The ``(func, args, kwargs)`` tasks."""
        if self._items is None:
            func, args, kwargs = self._columns  # type: ignore[misc]
            if kwargs is None:
                kwargs = [{} for _ in args]
            self._items = list(zip([func] * len(args), args, kwargs, strict=True))
        return self._items

    def __call__(self) -> list[Any]:
        if self.nested_backend is None:
            return self._run()
        token = set_nested(self.nested_backend, self.max_n_jobs)
        try:
            return self._run()
        finally:
            restore(token)

    def _run(self) -> list[Any]:
        policy = self.policy
        if policy is not None:
            return [run_task(policy, *task) for task in self.items]
        if self._columns is not None:
            func, args, kwargs = self._columns
            if kwargs is None:
                return [func(*task_args) for task_args in args]
            return [func(*a, **k) for a, k in zip(args, kwargs, strict=True)]
        return [func(*args, **kwargs) for func, args, kwargs in self.items]

    def __len__(self) -> int:
        if self._columns is not None:
            return len(self._columns[1])
        return len(self.items)

    def __reduce__(self) -> Any:
        if self._columns is not None:
            return BatchedCalls._from_columns, (
                *self._columns,
                self.nested_backend,
                self.max_n_jobs,
                self.policy,
            )
        items = self.items
        funcs = list(map(_first, items))
        if not items or funcs.count(funcs[0]) != len(funcs):
            return BatchedCalls, (
                items,
                self.nested_backend,
                self.max_n_jobs,
                self.policy,
            )
        # Checked with C-level loops: this runs in the parent for every task.
        with_kwargs = any(map(_third, items))
        return BatchedCalls._from_columns, (
            funcs[0],
            list(map(_second, items)),
            list(map(_third, items)) if with_kwargs else None,
            self.nested_backend,
            self.max_n_jobs,
            self.policy,
        )

    def describe(self) -> str:
        """``f(args...)`` of the first task, for error messages."""
        if not self.items:
            return "an empty batch"
        more = (
            f" (in a batch of {len(self.items)} tasks)" if len(self.items) > 1 else ""
        )
        return f"{self.describe_task(0)}{more}"

    def describe_task(self, index: int) -> str:
        """``f(args...)`` of task ``index``, shortened."""
        func, args, kwargs = self.items[index]
        return describe_call(func, args, kwargs)


def _short_repr(value: Any, width: int) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= width else text[: width - 3] + "..."


def describe_call(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], width: int = 80
) -> str:
    """``name(arg, key=value)`` with each argument and the whole shortened."""
    name = (
        getattr(func, "__qualname__", None)
        or getattr(func, "__name__", None)
        or type(func).__name__
    )
    parts = [_short_repr(arg, 30) for arg in args[:6]]
    parts += [
        f"{key}={_short_repr(value, 30)}" for key, value in list(kwargs.items())[:6]
    ]
    if len(args) > 6 or len(kwargs) > 6:
        parts.append("...")
    text = f"{name}({', '.join(parts)})"
    return text if len(text) <= width else text[: width - 4] + "...)"
