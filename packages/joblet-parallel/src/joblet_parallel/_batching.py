"""BatchedCalls: several tasks sent to a worker as one unit."""

from __future__ import annotations

from typing import Any

from ._config import restore, set_nested


class BatchedCalls:
    """A list of ``(func, args, kwargs)`` tasks run in order by one worker.

    Calling it returns the list of results. Inside the worker, ``Parallel`` calls
    made by the tasks see the nested backend of the outer backend (the rule that
    prevents over-subscription).
    """

    __slots__ = ("items", "max_n_jobs", "nested_backend")

    def __init__(
        self,
        items: list[tuple[Any, tuple[Any, ...], dict[str, Any]]],
        nested_backend: Any = None,
        max_n_jobs: int | None = None,
    ) -> None:
        self.items = items
        self.nested_backend = nested_backend
        self.max_n_jobs = max_n_jobs

    def __call__(self) -> list[Any]:
        if self.nested_backend is None:
            return [func(*args, **kwargs) for func, args, kwargs in self.items]
        token = set_nested(self.nested_backend, self.max_n_jobs)
        try:
            return [func(*args, **kwargs) for func, args, kwargs in self.items]
        finally:
            restore(token)

    def __len__(self) -> int:
        return len(self.items)

    def __reduce__(self) -> Any:
        return BatchedCalls, (self.items, self.nested_backend, self.max_n_jobs)

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
