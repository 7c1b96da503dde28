"""What the parent makes of a worker's failure: rebuilt exceptions, exit causes."""

from __future__ import annotations

import pickle
import signal
import traceback
from typing import Any

from .._errors import RemoteError, RemoteTraceback


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "it stopped answering and was killed"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        hint = {
            "SIGKILL": " (the out-of-memory killer, or another process, sent it)",
            "SIGSEGV": " (a segmentation fault, usually in a compiled extension)",
            "SIGBUS": " (a bus error, e.g. a memory-mapped file that shrank)",
            "SIGABRT": " (an abort, e.g. a failed assertion in a C library)",
        }.get(name, "")
        return f"it was killed by signal {-returncode} ({name}){hint}"
    return f"it exited with code {returncode} (os._exit() or sys.exit() in the task?)"


def summarize_error(error: BaseException) -> tuple[bytes | None, str, str, str]:
    """``(pickled error or None, traceback text, type name, message)``: how an
    exception travels from a worker (:func:`rebuild_error` is the other end).

    The error is pickled on its own so that the parent still gets its type name,
    message and traceback when its class cannot be rebuilt there.
    """
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    error.__traceback__ = None
    name = f"{type(error).__module__}.{type(error).__qualname__}"
    try:
        import cloudpickle

        error_bytes: bytes | None = cloudpickle.dumps(error, protocol=5)
    except Exception:
        error_bytes = None
    try:
        message = str(error)
    except Exception:
        message = "(the message could not be formatted)"
    return error_bytes, text, name, message


def unreadable_result(error: BaseException) -> tuple[Any, ...]:
    """The :func:`summarize_error` form of a result that could not be unpickled
    here."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    name = f"{type(error).__module__}.{type(error).__qualname__}"
    message = f"the result sent by the worker could not be unpickled here: {error}"
    return (None, text, name, message)


def rebuild_error(value: tuple[Any, ...]) -> BaseException:
    """The exception a worker sent: its own class when it can be rebuilt here,
    else a RemoteError with its type name, message and traceback text."""
    error_bytes, text, type_name, message = value
    error: object = None
    if error_bytes is not None:
        try:
            error = pickle.loads(error_bytes)
        except Exception:
            error = None
    if not isinstance(error, BaseException):
        error = RemoteError(type_name, message, text)
    error.__cause__ = RemoteTraceback(text)
    return error
