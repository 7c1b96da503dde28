"""Errors raised by Parallel and the process executor."""

from __future__ import annotations

import functools
import pickle


class RemoteTraceback(Exception):
    """The traceback of an error raised inside a worker, as text.

    Attached as ``__cause__`` of the re-raised exception, so that the worker's
    traceback is printed above the parent's ("The above exception was the direct
    cause of the following exception").
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


class TerminatedWorkerError(RuntimeError):
    """A worker process died while it held tasks of this call.

    Raised when a worker exits abruptly (``os._exit``, a signal such as SIGKILL or
    SIGSEGV, the out-of-memory killer). The pool replaces the dead worker, so the
    next call works.

    Attributes
    ----------
    pid : int
        Process id of the dead worker.
    exitcode : int or None
        Its exit status: positive for ``exit(n)``, ``-N`` for signal ``N``.
    """

    def __init__(self, message: str, pid: int = 0, exitcode: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.exitcode = exitcode


class TaskPicklingError(pickle.PicklingError):
    """A task could not be pickled to be sent to the workers.

    The message names the offending object and its place in the call, such as
    ``argument 2 of delayed(fit)(...)`` or ``keyword argument 'model'``.
    """


class UnknownBackendError(ValueError, KeyError):
    """The backend name is neither built in, registered nor found as a plug-in."""

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0]) if self.args else ""


class WorkerInterrupt(Exception):
    """Carried in place of a ``KeyboardInterrupt`` raised inside a worker.

    ``multiprocessing.Pool`` workers only report ``Exception``: a bare
    ``KeyboardInterrupt`` would kill the worker and leave its task unanswered, so
    the worker raises this instead and the parent turns it back into a
    ``KeyboardInterrupt``.
    """


@functools.lru_cache(maxsize=1)
def _timeout_error_class() -> type[Exception]:
    # multiprocessing costs ~30 ms to import: only when a timeout really fires.
    import builtins
    import multiprocessing

    class ParallelTimeoutError(multiprocessing.TimeoutError, builtins.TimeoutError):
        """``Parallel(timeout=...)`` expired.

        Both ``multiprocessing.TimeoutError`` (what joblib raises) and the builtin
        ``TimeoutError`` catch it.
        """

    ParallelTimeoutError.__module__ = __name__
    return ParallelTimeoutError


def parallel_timeout_error(message: str) -> Exception:
    """The error raised when ``Parallel(timeout=...)`` expires."""
    return _timeout_error_class()(message)


class ResultPicklingError(pickle.PicklingError):
    """The result of a task could not be pickled in the worker to be sent back.

    The message names the task (``f(args...)``) and the object that failed.
    """


class RemoteError(Exception):
    """An exception raised in a worker whose class cannot be rebuilt here.

    Raised in place of the original when unpickling it fails in the parent (its
    module is not importable here, or its ``__init__`` needs other arguments).

    Attributes
    ----------
    type_name : str
        Qualified name of the original exception class.
    message : str
        ``str()`` of the original exception.
    traceback_text : str
        The worker's formatted traceback.
    """

    def __init__(self, type_name: str, message: str, traceback_text: str) -> None:
        super().__init__(type_name, message, traceback_text)
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}"


class TaskTimeoutError(TimeoutError):
    """A task ran longer than ``task_timeout``: its worker was stopped and replaced.

    The message names the task (``f(args...)``, shortened) and its elapsed time.
    """
