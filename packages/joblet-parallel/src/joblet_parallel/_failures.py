"""Failures that do not sink the call: per-task retries and returned exceptions.

Where a task runs (a worker, a thread, the caller), :func:`run_task` calls it
under the call's :class:`FailurePolicy`: an exception whose type ``retry_on``
names is retried there, up to ``retries`` more times; with
``return_exceptions`` the last exception is returned in the task's place as a
:class:`TaskFailure`, which travels back to the parent (carrying the worker's
traceback, and the exception's type name and message should its class not be
rebuildable there) and becomes the exception object in the output.

Failures of the worker itself (its death, a task past ``task_timeout``) are
seen by the parent only; :mod:`_dispatch` retries those.
"""

from __future__ import annotations

from typing import Any

from ._warnings import warn


class FailurePolicy:
    """What to do when a task raises (sent to the workers with each batch)."""

    __slots__ = ("retries", "retry_on", "return_exceptions")

    def __init__(
        self,
        return_exceptions: bool = False,
        retries: int = 0,
        retry_on: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.return_exceptions = return_exceptions
        self.retries = retries
        self.retry_on = retry_on

    def __reduce__(self) -> Any:
        return FailurePolicy, (self.return_exceptions, self.retries, self.retry_on)

    @property
    def active(self) -> bool:
        """Whether running a task needs more than a plain call."""
        return self.return_exceptions or bool(self.retries and self.retry_on)


def add_note(error: BaseException, note: str) -> None:
    """``error.add_note(note)``, also on Python 3.10 (stored, not printed)."""
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:  # pragma: no cover - Python 3.10
        error.__notes__ = [*getattr(error, "__notes__", []), note]  # type: ignore[attr-defined]


def attempts_note(reasons: list[str]) -> str:
    """``failed after 3 attempts: 1) ...; 2) ...; 3) ...``."""
    steps = "; ".join(f"{i}) {reason}" for i, reason in enumerate(reasons, 1))
    plural = "s" if len(reasons) > 1 else ""
    return f"failed after {len(reasons)} attempt{plural}: {steps}"


def describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def run_task(
    policy: FailurePolicy, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call ``func(*args, **kwargs)`` under ``policy``."""
    reasons: list[str] = []
    while True:
        try:
            return func(*args, **kwargs)
        except Exception as error:
            reasons.append(describe_error(error))
            retry = isinstance(error, policy.retry_on) if policy.retry_on else False
            if retry and len(reasons) <= policy.retries:
                continue
            if len(reasons) > 1:
                add_note(error, f"The task {attempts_note(reasons)}")
            if policy.return_exceptions:
                return TaskFailure(error)
            raise


class TaskFailure:
    """An exception returned in a task's place (``return_exceptions=True``).

    In the process that ran the task it holds the exception; pickled, it carries
    the exception pickled on its own, its traceback text, type name and message,
    so that the parent rebuilds it (or a ``RemoteError``) with the worker's
    traceback attached as ``__cause__``, as for an exception that fails the call.
    """

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __reduce__(self) -> Any:
        from ._executor._remote_errors import summarize_error

        return _rebuilt_failure, summarize_error(self.error)


def _rebuilt_failure(
    error_bytes: bytes | None, text: str, name: str, message: str
) -> TaskFailure:
    from ._executor._remote_errors import rebuild_error

    return TaskFailure(rebuild_error((error_bytes, text, name, message)))


def unwrap_failures(results: list[Any]) -> list[Any]:
    """The batch's results with each :class:`TaskFailure` replaced by its error."""
    return [r.error if type(r) is TaskFailure else r for r in results]


def is_worker_loss(error: BaseException) -> bool:
    """The worker running the batch died (ours, or dask's ``KilledWorker``)."""
    from ._errors import TerminatedWorkerError

    if isinstance(error, TerminatedWorkerError):
        return True
    return any(cls.__name__ == "KilledWorker" for cls in type(error).__mro__)


def check_failure_options(
    return_exceptions: Any, retries: Any, retry_on: Any, task_timeout: Any
) -> tuple[bool, int, tuple[type[BaseException], ...], float | None]:
    """The failure options of Parallel/parallel_config, checked and normalised."""
    if not isinstance(return_exceptions, bool):
        raise TypeError(
            f"return_exceptions must be True or False, got {return_exceptions!r}"
        )
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(
            "retries must be an int >= 0 (how many times a task whose worker died "
            f"is sent again), got {retries!r}"
        )
    if isinstance(retry_on, type):
        retry_on = (retry_on,)
    if not isinstance(retry_on, tuple) or not all(
        isinstance(cls, type) and issubclass(cls, BaseException) for cls in retry_on
    ):
        raise TypeError(
            "retry_on must be an exception class or a tuple of them, such as "
            f"(ConnectionError, TimeoutError), got {retry_on!r}"
        )
    if task_timeout is not None and (
        isinstance(task_timeout, bool)
        or not isinstance(task_timeout, (int, float))
        or not task_timeout > 0
    ):
        raise ValueError(
            f"task_timeout must be a number of seconds > 0 or None, got {task_timeout!r}"
        )
    return return_exceptions, retries, retry_on, task_timeout


def check_call_support(
    backend: Any,
    n_jobs: int,
    task_timeout: float | None,
    timeout: float | None = None,
    retries: int = 0,
    retry_on: tuple[type[BaseException], ...] = (),
) -> None:
    """At call time: refuse what this backend cannot offer, naming the
    alternative (``task_timeout`` where a late task cannot be stopped,
    ``timeout`` where tasks run in the caller, ``retries`` where a dead
    worker's task is lost)."""
    name = type(backend).__name__
    if timeout is not None and (name == "SequentialBackend" or n_jobs == 1):
        # joblib's documented rule: the timeout applies only when n_jobs != 1;
        # joblib 1.6 says so with this warning, and so do we.
        warn(
            "The backend class 'SequentialBackend' does not support timeout. You "
            f"have set 'timeout={timeout}' in Parallel but the 'timeout' parameter "
            "will not be used: with one job, tasks run in the calling thread, which "
            "cannot be interrupted. Use n_jobs > 1 for a timeout."
        )
    if (
        timeout is not None
        and n_jobs > 1
        and not backend.supports_retrieve_callback
        and not backend.supports_timeout
    ):
        raise ValueError(
            f"timeout={timeout} cannot apply: {name} neither reports results "
            "through callbacks nor honours a timeout when results are read "
            "(supports_timeout=False). Use a backend that does, such as 'loky' "
            "or 'threading'"
        )
    if retries and not retry_on and getattr(backend, "loses_dead_workers_tasks", False):
        raise ValueError(
            f"retries={retries} sends again the task of a worker that died, and "
            f"{name} cannot see a worker die (its task is lost). Use the default "
            "process backend ('loky'), or retry_on= for exceptions raised by tasks"
        )
    if task_timeout is None:
        return
    if n_jobs == 1 or not getattr(backend, "supports_task_timeout", False):
        where = (
            "n_jobs=1 runs the tasks in this process"
            if n_jobs == 1
            else f"{type(backend).__name__} cannot stop a running task"
            + (" (a thread cannot be stopped)" if backend.uses_threads else "")
        )
        raise ValueError(
            f"task_timeout={task_timeout} needs process workers that can be stopped: "
            f"{where}. Use the default process backend ('loky') with n_jobs > 1, "
            "or timeout= (which fails the whole call)"
        )


def run_inline(
    policy: FailurePolicy, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """:func:`run_task` in the caller's process: a returned failure is its error."""
    result = run_task(policy, func, args, kwargs)
    return result.error if type(result) is TaskFailure else result
