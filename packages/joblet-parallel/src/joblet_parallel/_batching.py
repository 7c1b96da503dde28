"""BatchedCalls: several tasks sent to a worker as one unit."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._config import restore, set_nested
from ._failures import FailurePolicy, run_task

if TYPE_CHECKING:
    from ._sent_functions import CallFunctions

Task = tuple[Any, tuple[Any, ...], dict[str, Any]]


@runtime_checkable
class Batch(Protocol):
    """What a backend's ``submit`` receives from ``Parallel``: tasks run in
    order by one worker, calling it returns their results.

    A backend that runs the batch as it is only calls it; one that rebuilds it
    elsewhere (the ``'dask'`` backend, which swaps scattered arguments for
    futures) reads its parts.

    Attributes
    ----------
    items : list of (func, args, kwargs)
        The tasks.
    nested_backend : ParallelBackendBase or None
        The backend of ``Parallel`` calls made by the tasks.
    max_n_jobs : int or None
        The cap of their ``n_jobs``.
    policy : FailurePolicy or None
        How the tasks' failures are handled (``return_exceptions``,
        ``retry_on``), None when failures simply raise.
    """

    @property
    def items(self) -> list[Task]: ...

    nested_backend: Any
    max_n_jobs: int | None
    policy: FailurePolicy | None

    def __call__(self) -> list[Any]: ...


_first, _second, _third = itemgetter(0), itemgetter(1), itemgetter(2)


class BatchedCalls:
    """A list of ``(func, args, kwargs)`` tasks run in order by one worker.

    Calling it returns the list of results. Inside the worker, ``Parallel`` calls
    made by the tasks see the nested backend of the outer backend (the rule that
    prevents over-subscription).

    A batch whose tasks share one function is held (and sent) as that function
    once and a column of arguments: the only positional argument of each task
    when every task has exactly one and no keywords (the common
    ``delayed(f)(x) for x in ...``), else a list of argument tuples and, only if
    a task has keywords, a list of keyword dicts. Per task, pickling, unpickling
    and the garbage collector then see a plain value instead of a ``(func, args,
    {})`` triple (several times less work for tiny tasks). ``time_limit``
    (seconds per task, or None) is read by the executor and is not sent.
    """

    __slots__ = (
        "_args",
        "_func",
        "_items",
        "_kwargs",
        "_single",
        "max_n_jobs",
        "nested_backend",
        "policy",
        "sent_functions",
        "time_limit",
    )

    def __init__(
        self,
        items: list[Task] | None,
        nested_backend: Any = None,
        max_n_jobs: int | None = None,
        policy: FailurePolicy | None = None,
        *,
        func: Any = None,
        args: list[Any] | None = None,
        kwargs: list[dict[str, Any]] | None = None,
        single: bool = False,
    ) -> None:
        # Either items, or the column form: func, args, kwargs and single
        # (see :meth:`of_one_function`).
        self._items: list[Task] | None = items
        self._func: Any = func
        self._args: list[Any] = [] if args is None else args
        self._kwargs = kwargs
        self._single = single
        self.configure(nested_backend, max_n_jobs, policy)

    def configure(
        self,
        nested_backend: Any = None,
        max_n_jobs: int | None = None,
        policy: FailurePolicy | None = None,
    ) -> None:
        """Where nested calls run, and the failure policy of the tasks."""
        self.policy = policy if policy is not None and policy.active else None
        self.nested_backend = nested_backend
        self.max_n_jobs = max_n_jobs
        self.time_limit: float | None = None
        # set by the process backend while it pickles the batch: the function
        # then travels once per call and worker (see _sent_functions)
        self.sent_functions: CallFunctions | None = None

    @classmethod
    def of_one_function(
        cls,
        func: Any,
        args: list[Any],
        kwargs: list[dict[str, Any]] | None,
        single: bool,
        nested_backend: Any = None,
        max_n_jobs: int | None = None,
        policy: FailurePolicy | None = None,
    ) -> BatchedCalls:
        """Tasks of one function, held as ``func`` and a column of arguments:
        ``args`` (each task's only argument when ``single``, else its
        tuple) and ``kwargs`` (a dict per task, or None when none has any)."""
        return cls(
            None,
            nested_backend,
            max_n_jobs,
            policy,
            func=func,
            args=args,
            kwargs=kwargs,
            single=single,
        )

    @property
    def items(self) -> list[Task]:
        """The ``(func, args, kwargs)`` tasks."""
        if self._items is None:
            return [self._task(index) for index in range(len(self._args))]
        return self._items

    def _task(self, index: int) -> Task:
        if self._items is not None:
            return self._items[index]
        args = self._args[index]
        kwargs = {} if self._kwargs is None else self._kwargs[index]
        return self._func, (args,) if self._single else args, kwargs

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
        if self._items is not None:
            return [func(*args, **kwargs) for func, args, kwargs in self._items]
        func = self._func
        if self._single:
            return list(map(func, self._args))
        if self._kwargs is None:
            return [func(*args) for args in self._args]
        return [func(*a, **k) for a, k in zip(self._args, self._kwargs, strict=True)]

    def __len__(self) -> int:
        return len(self._args) if self._items is None else len(self._items)

    def split(self, piece: int) -> list[BatchedCalls]:
        """Consecutive batches of ``piece`` tasks (the last one may be shorter)."""
        if piece >= len(self):
            return [self]
        if self._items is not None:
            items = self._items
            return [
                BatchedCalls(items[start : start + piece])
                for start in range(0, len(items), piece)
            ]
        kwargs = self._kwargs
        return [
            BatchedCalls.of_one_function(
                self._func,
                self._args[start : start + piece],
                None if kwargs is None else kwargs[start : start + piece],
                self._single,
            )
            for start in range(0, len(self._args), piece)
        ]

    def __reduce__(self) -> Any:
        settings = (self.nested_backend, self.max_n_jobs, self.policy)
        if self._items is None:
            return BatchedCalls.of_one_function, (
                self._sent(self._func),
                self._args,
                self._kwargs,
                self._single,
                *settings,
            )
        items = self._items
        funcs = list(map(_first, items))
        if not items or funcs.count(funcs[0]) != len(funcs):
            return BatchedCalls, (items, *settings)
        # Checked with C-level loops: this runs in the parent for every task.
        with_kwargs = any(map(_third, items))
        return BatchedCalls.of_one_function, (
            self._sent(funcs[0]),
            list(map(_second, items)),
            list(map(_third, items)) if with_kwargs else None,
            False,
            *settings,
        )

    def _sent(self, func: Any) -> Any:
        functions = self.sent_functions
        return func if functions is None else functions.reference(func)

    def describe(self) -> str:
        """``f(args...)`` of the first task, for error messages."""
        if not len(self):
            return "an empty batch"
        more = f" (in a batch of {len(self)} tasks)" if len(self) > 1 else ""
        return f"{self.describe_task(0)}{more}"

    def describe_task(self, index: int) -> str:
        """``f(args...)`` of task ``index``, shortened."""
        func, args, kwargs = self._task(index)
        return describe_call(func, args, kwargs)


def take_tasks(iterator: Iterator[Any], size: int) -> BatchedCalls | None:
    """The next ``size`` tasks of ``iterator`` (fewer at its end) as one batch;
    None when it is exhausted.

    Tasks of one function with one positional argument each are kept as that
    function and a list of the arguments while the input is read, so that their
    ``(func, args, kwargs)`` triples die at once (the garbage collector never
    walks them, which for tiny tasks cost more than everything else); any other
    task switches the batch to the general form.
    """
    tasks = itertools.islice(iterator, size)
    values: list[Any] = []
    append = values.append
    func: Any = _NO_FUNCTION
    for task in tasks:
        task_func, args, kwargs = task
        if (
            (task_func is func or func is _NO_FUNCTION)
            and not kwargs
            and len(args) == 1
        ):
            func = task_func
            append(args[0])
            continue
        items: list[Task] = [(func, (value,), {}) for value in values]
        items.append(task)
        items.extend(tasks)
        return BatchedCalls(items)
    if not values:
        return None
    return BatchedCalls.of_one_function(func, values, None, True)


_NO_FUNCTION = object()


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
    # for messages only: a worker that never fails never imports it
    from joblet_hash.code import display_name

    name = display_name(func)
    parts = [_short_repr(arg, 30) for arg in args[:6]]
    parts += [
        f"{key}={_short_repr(value, 30)}" for key, value in list(kwargs.items())[:6]
    ]
    if len(args) > 6 or len(kwargs) > 6:
        parts.append("...")
    text = f"{name}({', '.join(parts)})"
    return text if len(text) <= width else text[: width - 4] + "...)"
