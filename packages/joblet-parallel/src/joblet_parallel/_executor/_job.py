"""A batch submitted to the worker pool, as the pool and its callers see it:
a minimal future (``result``/``get``) whose callback runs when it is done."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._output import OutputSink

if TYPE_CHECKING:
    from ._pool import _Worker


class CancelledBatchError(Exception):
    """The batch was cancelled before it ran (its call was aborted)."""


class Job:
    """A batch submitted to the pool; a minimal future (``result``/``get``)."""

    __slots__ = (
        "_event",
        "buffers",
        "callback",
        "cancelled",
        "describe",
        "done",
        "duration",
        "error",
        "functions",
        "id",
        "main",
        "n_tasks",
        "output",
        "started",
        "time_limit",
        "value",
        "worker",
    )

    def __init__(
        self,
        job_id: int,
        payload: tuple[bytes, list[Any]],
        callback: Callable[[Any], Any] | None,
        describe: Callable[[], str] | None,
        output: OutputSink,
        n_tasks: int = 1,
        time_limit: float | None = None,
        functions: list[tuple[int, str]] | None = None,
    ) -> None:
        self.id = job_id
        self.main, self.buffers = payload
        # (buffer index, key) of the sent functions among the buffers
        self.functions = functions or []
        self.callback = callback
        self.describe = describe
        self.output = output
        self.n_tasks = n_tasks
        self.time_limit = time_limit
        self.started = 0.0
        self.worker: _Worker | None = None
        self.done = False
        self.cancelled = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.duration = 0.0
        self._event = threading.Event()

    def complete(
        self,
        value: Any = None,
        error: BaseException | None = None,
        duration: float = 0.0,
    ) -> None:
        """Settle the job (the pool's side of the future, as
        ``Future.set_result``): record the outcome, wake waiters, run the
        callback once. Called once, by the pool."""
        self.value, self.error, self.duration = value, error, duration
        self.main = self.buffers = None  # type: ignore[assignment]
        self.done = True
        self._event.set()
        callback, self.callback, self.describe = self.callback, None, None
        # (Dropped: the callback usually refers back to whoever holds this job,
        # a cycle that would keep the batch's arguments alive until a collection.)
        if callback is not None and not self.cancelled:
            try:
                callback(self)
            except BaseException:
                # The callback runs in the thread that reads a worker's results;
                # letting the error end that thread would leave the worker's next
                # results unread (and their calls hanging). Report and go on.
                report_callback_error()

    def result(self, timeout: float | None = None) -> Any:
        if not self.done and not self._event.wait(timeout):
            raise TimeoutError("the batch did not finish in time")
        if self.error is not None:
            raise self.error
        return self.value

    get = result

    def what(self) -> str:
        if self.describe is not None:
            try:
                return self.describe()
            except Exception:
                pass
        return "a batch"


def report_callback_error(what: str = "the callback of a joblet batch") -> None:
    try:
        import traceback

        sys.stderr.write(f"Exception in {what} (ignored):\n")
        traceback.print_exc()
    except Exception:
        pass  # no usable stderr: nothing more can be done
