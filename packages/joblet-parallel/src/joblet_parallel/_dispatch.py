"""The dispatch of one Parallel call: batches out to the backend, results back.

:class:`CallDispatch` holds the state of one call (batches in flight, batches
completed out of order, items taken from the input but not sent yet, the first
error, whether the call was aborted, how many batches the caller consumed) and
has one method per step: take the next items, dispatch, on batch done, wait for
the next batch (with the timeout policy), retrieve from backends without result
callbacks, abort. ``Parallel`` keeps the configuration (read here through
its public attributes) and the shape of the result; it hands the dispatcher
the backend, the call's :class:`~joblet_parallel._progress.CallProgress` (the
counts the dispatcher writes and ``Parallel`` reads, the verbose messages, the
progress hook) and what to do when the call ends.

Three kinds of threads meet here: the caller's (in :meth:`CallDispatch.run`),
the backend's callback threads (:meth:`CallDispatch.on_done`, which dispatches
more work as batches complete) and, for the process backend, none other. The
condition ``lock`` guards the batch lists and counters; ``dispatch_lock`` makes
one thread at a time take items from the input iterator.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._batching import BatchedCalls, take_tasks
from ._errors import (
    ResultPicklingError,
    TaskTimeoutError,
    WorkerInterrupt,
    parallel_timeout_error,
)
from ._failures import (
    add_note,
    attempts_note,
    describe_error,
    is_worker_loss,
    unwrap_failures,
)
from ._validation import parse_pre_dispatch

if TYPE_CHECKING:
    from ._parallel import Parallel
    from ._progress import CallProgress


class _BatchRecord:
    """The dispatcher's record of one batch it sent (a :class:`Batch` of
    tasks): its position, its state, its result or error, the backend's
    future-like ``job`` and, when a failure may need it, the tasks again."""

    __slots__ = (
        "counted",
        "done",
        "error",
        "index",
        "items",
        "job",
        "parent",
        "parts_left",
        "reasons",
        "result",
        "seq",
        "size",
        "started",
        "waited_since",
    )

    def __init__(
        self,
        size: int,
        items: BatchedCalls | None = None,
        parent: _BatchRecord | None = None,
        index: int = 0,
    ) -> None:
        self.size = size
        # Kept only when a failure may need the batch sent again (or split).
        self.items = items
        self.parent, self.index = parent, index  # a task of a split batch
        self.parts_left = 0
        self.reasons: list[str] = []  # why each attempt failed
        self.done = False
        self.counted = False  # in statistics.completed_batches (frees a slot)
        self.error: BaseException | None = None
        self.result: Any = None
        self.job: Any = None
        self.started = time.monotonic()
        self.waited_since = 0.0
        self.seq = 0  # position in the input, in batches


#: What :meth:`CallDispatch.run` yields first when asked to announce its start.
STARTED = object()


class CallDispatch:
    """The state and steps of one parallel call (see the module docstring)."""

    def __init__(
        self,
        parallel: Parallel,
        backend: Any,
        iterator: Iterator[Any],
        n_jobs: int,
        *,
        progress: CallProgress,
        on_end: Callable[[], None],
        managed: bool = False,
    ) -> None:
        # parallel: the call's options (public attributes), read, never written
        self.parallel = parallel
        self.backend = backend
        self.progress = progress
        self.statistics = progress.statistics
        self.on_end = on_end  # the call is over (release the backend)
        self.managed = managed  # a with block: the workers must stay usable
        self.iterator = iterator
        self.n_jobs = n_jobs
        self.lock = threading.Condition()
        self.dispatch_lock = threading.Lock()
        self.ahead = parse_pre_dispatch(parallel.pre_dispatch, n_jobs)
        self.auto = parallel.batch_size == "auto"
        self.nested_backend, self.nested_max = _nested_backend(self.backend)
        self.ordered = parallel.return_as != "generator_unordered"
        self.lazy_output = parallel.return_as != "list"
        self.callback_retrieval = self.backend.supports_retrieve_callback
        self.jobs: deque[_BatchRecord] = deque()  # dispatched, in input order
        self.completed: deque[_BatchRecord] = deque()  # done, for generator_unordered
        self.ready: deque[BatchedCalls] = deque()  # taken from the input, not sent
        self.error: BaseException | None = None
        # The batch whose task raised self.error: a generator hands over the
        # batches before it first (as joblib), then raises.
        self.failed: _BatchRecord | None = None
        self.aborted = False
        self.consumed = 0  # batches handed to the caller
        self.dispatching: int | None = None  # thread id inside dispatch()
        self.policy = parallel.failure_policy
        self.task_timeout: float | None = parallel.task_timeout
        self.tasks_per_child: int | None = getattr(
            self.backend, "max_tasks_per_child", None
        )
        if self.tasks_per_child is not None and getattr(
            self.backend, "counts_batches_per_child", False
        ):
            self.tasks_per_child = 1  # the pool counts batches: one task each
        # Whether a batch's failure can be survived: then its items are kept.
        self.recover = bool(
            parallel.return_exceptions or parallel.retries or self.task_timeout
        )

    # -- taking and sending work ---------------------------------------------
    def next_items(self) -> BatchedCalls | None:
        """The tasks of the next batch; None when the input is exhausted.

        Reads one batch of the input at a time, so that workers start on it
        while the rest is read; a short last batch is split into smaller ones
        (``batch_size='auto'``) so that every worker gets a share of the tail.
        """
        p = self.parallel
        if self.ready:
            return self.ready.popleft()
        if self.statistics.exhausted:
            return None
        size = self.backend.compute_batch_size() if self.auto else p.batch_size
        if self.task_timeout is not None:
            size = 1  # each task has its own clock
        elif self.tasks_per_child is not None:
            size = min(size, self.tasks_per_child)  # a worker runs at most that many
        calls = take_tasks(self.iterator, size)
        if calls is None or len(calls) < size:
            self.statistics.total_tasks = self.statistics.dispatched_tasks + (
                0 if calls is None else len(calls)
            )
            self.statistics.exhausted = True
            if calls is None:
                return None
            if self.auto:
                self.ready.extend(calls.split(max(1, len(calls) // (2 * self.n_jobs))))
                return self.ready.popleft()
        return calls

    def may_dispatch(self) -> bool:
        """Whether pre_dispatch (and, for generators, consumption) allow more."""
        if self.aborted or self.error is not None:
            return False
        if self.ahead is None:
            return True
        in_flight = (
            self.statistics.dispatched_batches - self.statistics.completed_batches
        )
        if in_flight >= self.ahead:
            return False
        return not (
            self.lazy_output
            and self.statistics.dispatched_batches - self.consumed
            >= 2 * self.ahead + self.n_jobs
        )

    def dispatch(self, limit: int | None = None) -> bool:
        """Dispatch batches while allowed; return whether any was sent."""
        me = threading.get_ident()
        if self.dispatching == me:
            return False  # a callback run inside submit(): the loop below goes on
        with self.dispatch_lock:
            self.dispatching = me
            try:
                sent = self._dispatch_loop(limit)
            finally:
                self.dispatching = None
        return sent > 0

    def _dispatch_loop(self, limit: int | None) -> int:
        sent = 0
        while self.may_dispatch() and (limit is None or sent < limit):
            calls = self.next_items()
            if calls is None:
                with self.lock:
                    self.lock.notify_all()
                break
            batch = _BatchRecord(len(calls), calls if self.recover else None)
            with self.lock:
                batch.seq = self.statistics.dispatched_batches
                self.jobs.append(batch)
                self.statistics.dispatched_batches += 1
                self.statistics.dispatched_tasks += len(calls)
            self._submit(batch, calls)
            sent += 1
        return sent

    def _submit(self, batch: _BatchRecord, calls: BatchedCalls) -> None:
        calls.configure(self.nested_backend, self.nested_max, self.policy)
        calls.time_limit = self.task_timeout
        batch.started = time.monotonic()
        batch.job = self.backend.submit(calls, callback=self._callback_for(batch))

    def _callback_for(self, batch: _BatchRecord) -> Callable[[Any], None]:
        return lambda out: self.on_done(batch, out)

    def fail(self, error: BaseException, batch: _BatchRecord | None = None) -> None:
        """Record the call's first error (raised by a task of ``batch``, if
        given) and wake the caller."""
        with self.lock:
            if self.error is None:
                self.error, self.failed = error, batch
            self.lock.notify_all()

    # -- completion (in the backend's callback threads) ------------------------
    def on_done(self, batch: _BatchRecord, out: Any) -> None:
        try:
            self._on_done(batch, out)
        except BaseException as exc:
            # E.g. progress printing to a broken stream: the call must fail
            # with it, not wait forever for a batch that was never marked done.
            self.fail(exc)

    def _on_done(self, batch: _BatchRecord, out: Any) -> None:
        if self.aborted:
            return
        if not self.callback_retrieval:
            self._count_completion(batch)
            return
        error = None
        result: Any = None
        try:
            result = self.backend.retrieve_result_callback(out)
        except BaseException as exc:
            error = _caller_error(exc)
        if error is not None and self.recover and self._recover(batch, error):
            return
        if error is None and self.policy.return_exceptions:
            result = unwrap_failures(result)
        if batch.parent is not None:
            self._part_done(batch, result, error)
            return
        duration = getattr(out, "duration", 0.0) or (time.monotonic() - batch.started)
        if error is None:
            self.backend.batch_completed(batch.size, duration)
        self._finish(batch, result, error)

    def _finish(
        self, batch: _BatchRecord, result: Any, error: BaseException | None
    ) -> None:
        """A batch of the call is done: count it, wake the caller, send more."""
        with self.lock:
            if self.aborted:
                return
            batch.result, batch.error, batch.done = result, error, True
            if error is None:
                self.statistics.completed_tasks += batch.size
            elif self.error is None:
                self.error, self.failed = error, batch
            self.statistics.completed_batches += 1
            if not self.ordered:
                self.completed.append(batch)
            self.lock.notify_all()
        if error is None:
            self.progress.step()
            self._dispatch_after_completion()

    # -- surviving failures (return_exceptions, retries, task_timeout) -------
    def _recover(self, batch: _BatchRecord, error: BaseException) -> bool:
        """Send the batch again, split it, or put the error in its place;
        False when the error must fail the call (after noting the attempts)."""
        splittable = is_worker_loss(error) or isinstance(error, ResultPicklingError)
        if batch.size > 1 and splittable and batch.items is not None:
            self._split(batch)  # which task failed is unknown: one by one
            return True
        batch.reasons.append(describe_error(error))
        retry_on = self.policy.retry_on
        retriable = is_worker_loss(error) or (
            isinstance(error, TaskTimeoutError)
            and bool(retry_on)
            and isinstance(error, retry_on)
        )
        if (
            retriable
            and len(batch.reasons) <= self.policy.retries
            and batch.items is not None
            and not self.aborted
        ):
            self._submit(batch, batch.items)
            return True
        if len(batch.reasons) > 1:
            add_note(error, f"The task {attempts_note(batch.reasons)}")
        if not self.policy.return_exceptions or batch.size != 1:
            return False
        if batch.parent is not None:
            self._part_done(batch, [error], None)
        else:
            self._finish(batch, [error], None)
        return True

    def _split(self, batch: _BatchRecord) -> None:
        """Send each task of a batch that lost its worker on its own."""
        parts = batch.items.split(1) if batch.items is not None else []
        batch.result = [None] * len(parts)
        batch.parts_left = len(parts)
        for index, part in enumerate(parts):
            self._submit(_BatchRecord(1, part, batch, index), part)

    def _part_done(
        self, part: _BatchRecord, result: Any, error: BaseException | None
    ) -> None:
        """One task of a split batch is done; the batch is when all are."""
        if error is not None:
            self.fail(error, part.parent)
            return
        parent = part.parent
        assert parent is not None
        with self.lock:
            parent.result[part.index] = result[0]
            parent.parts_left -= 1
            finished = parent.parts_left == 0
        if finished:
            self._finish(parent, parent.result, None)

    def _count_completion(self, batch: _BatchRecord) -> None:
        """joblib's protocol: whatever the callback receives (the result, the
        future-like object submit returned, nothing), the result is read through
        the returned object by :meth:`retrieve_legacy`."""
        self.backend.batch_completed(batch.size, time.monotonic() - batch.started)
        with self.lock:
            if not batch.counted:
                batch.counted = True
                self.statistics.completed_batches += 1
            self.lock.notify_all()
        self._dispatch_after_completion()

    def _dispatch_after_completion(self) -> None:
        try:
            self.dispatch()
        except BaseException as exc:
            self.fail(exc)

    # -- the caller's side -----------------------------------------------------
    def run(self, announce: bool = False) -> Iterator[Any]:
        """Yield the results, a batch's list at a time (in the order
        ``return_as`` asks for).

        With ``announce``, first yield :data:`STARTED` once the first batches
        are dispatched: a generator call returns then, whatever its tasks do.
        """
        p = self.parallel
        self.backend.start_call()
        try:
            if self.ahead is not None and not self.auto:
                self.statistics.pre_dispatch_tasks = self.ahead * (
                    p.batch_size if isinstance(p.batch_size, int) else 1
                )
            else:
                self.statistics.pre_dispatch_tasks = self.ahead or 0
            self.dispatch()
            if announce:
                yield STARTED
            with self.backend.retrieval_context():
                while True:
                    batch = self.wait_for_next_batch()
                    if batch is not None and batch.error is not None:
                        raise batch.error
                    if batch is None and self.error is not None:
                        raise self.error
                    if batch is None:
                        if self._advance_without_batch():
                            break
                        continue
                    yield self._hand_over(batch)
            self.progress.finish()
            self.backend.stop_call()
        except BaseException:
            self.abort()
            raise
        finally:
            self.progress.close()
            self.on_end()

    def wait_for_next_batch(self) -> _BatchRecord | None:
        """The next batch to hand over, or None when the caller has something
        else to do (an error, the end, dispatch more, a legacy retrieval, a
        progress report)."""
        p = self.parallel
        with self.lock:
            while True:
                if self.error is not None and not self._holding_error():
                    return None
                if self.ordered:
                    if self.jobs and self.jobs[0].done:
                        return self.jobs.popleft()
                else:
                    batch = self._next_completed()
                    if batch is not None:
                        return batch
                if not self.jobs and self.statistics.exhausted and not self.ready:
                    return None
                pending_head = _first_pending(self.jobs)
                if pending_head is None and not self.statistics.exhausted:
                    return None  # nothing in flight: dispatch more
                wait = 0.1
                if p.timeout is not None and pending_head is not None:
                    left = self._time_left(pending_head)
                    if left <= 0:
                        self.error = self.timeout_error()
                        return None
                    wait = min(wait, left)
                if not self.callback_retrieval and pending_head is not None:
                    return None
                self.lock.wait(wait)
                if self.progress.has_hook:
                    return None

    def _holding_error(self) -> bool:
        """Whether a generator still has batches to hand over before the one
        whose task raised the call's error (then it waits for them)."""
        failed = self.failed
        if failed is None or not self.lazy_output or self.error is not failed.error:
            return False
        return any(batch.seq < failed.seq for batch in self.jobs)

    def _next_completed(self) -> _BatchRecord | None:
        """The next completed batch (``generator_unordered``); after an error,
        only the batches before the failed one."""
        failed = self.failed if self.error is not None else None
        while self.completed:
            batch = self.completed.popleft()
            if failed is None or batch.seq < failed.seq:
                return batch
        return None

    def _time_left(self, head: _BatchRecord) -> float:
        """Seconds the oldest pending batch may still take under ``timeout``."""
        now = time.monotonic()
        if not head.waited_since:
            head.waited_since = now
        since = max(head.waited_since, head.started)
        return self.parallel.timeout - (now - since)  # type: ignore[operator]

    def _advance_without_batch(self) -> bool:
        """No batch to hand over: retrieve, report, dispatch; True at the end."""
        if not self.callback_retrieval:
            head = _first_pending(self.jobs)
            if head is not None:
                self.retrieve_legacy(head)
        self.progress.report()
        if not self.jobs and self.statistics.exhausted and not self.ready:
            return True
        if _first_pending(self.jobs) is None and not self.statistics.exhausted:
            self.dispatch()
        return False

    def _hand_over(self, batch: _BatchRecord) -> list[Any]:
        if not self.ordered:
            with self.lock:
                try:
                    self.jobs.remove(batch)
                except ValueError:
                    pass
        self.consumed += 1
        self.progress.report()
        result: list[Any] = batch.result
        batch.result = None
        if self.lazy_output:
            self.dispatch()
        return result

    def abort(self) -> None:
        """Stop everything: queued batches are dropped, running ones stopped."""
        with self.lock:
            self.aborted = True
        try:
            self.backend.abort_everything(ensure_ready=self.managed)
        except Exception:
            pass

    def timeout_error(self) -> Exception:
        if self.backend.uses_threads:
            what = (
                "threads cannot be stopped: the tasks still running go on in the "
                "background until they end"
            )
        else:
            what = "the workers running late tasks were stopped"
        return parallel_timeout_error(
            f"a task took more than timeout={self.parallel.timeout} s; {what}"
        )

    def retrieve_legacy(self, head: _BatchRecord) -> None:
        """Backends whose callback only receives successes: block on the future."""
        p = self.parallel
        waited = time.monotonic()
        try:
            if p.timeout is not None and self.backend.supports_timeout:
                result = self.backend.retrieve_result(head.job, timeout=p.timeout)
            else:
                result = self.backend.retrieve_result(head.job)
        except BaseException as error:
            expired = (
                p.timeout is not None
                and time.monotonic() - waited >= p.timeout
                and _is_timeout(error)
            )
            with self.lock:
                if self.error is None:
                    self.error = (
                        self.timeout_error() if expired else _caller_error(error)
                    )
            return
        if self.policy.return_exceptions:
            result = unwrap_failures(result)
        with self.lock:
            if not head.done:
                head.result, head.done = result, True
                self.statistics.completed_tasks += head.size
                if not head.counted:  # its callback did not run (yet, or ever)
                    head.counted = True
                    self.statistics.completed_batches += 1
                if not self.ordered:
                    self.completed.append(head)


def _first_pending(jobs: deque[_BatchRecord]) -> _BatchRecord | None:
    for batch in jobs:
        if not batch.done:
            return batch
    return None


def _nested_backend(backend: Any) -> tuple[Any, int | None]:
    """``get_nested_backend()`` as ``(backend, n_jobs)``; joblib 0.x backends
    return the backend alone."""
    nested = backend.get_nested_backend()
    if isinstance(nested, tuple):
        return nested[0], nested[1]
    return nested, None


def _caller_error(error: BaseException) -> BaseException:
    """The exception the caller sees for an error reported by a backend."""
    if isinstance(error, WorkerInterrupt):
        return KeyboardInterrupt(*error.args)
    return error


def _is_timeout(error: BaseException) -> bool:
    """A timeout of a future's ``get``/``result`` (each library has its class)."""
    if isinstance(error, TimeoutError):
        return True
    return any(
        cls.__name__ == "TimeoutError"
        and cls.__module__ in ("multiprocessing.context", "concurrent.futures._base")
        for cls in type(error).__mro__
    )
