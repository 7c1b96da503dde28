"""Parallel: run an iterable of delayed tasks on a backend."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._backends import (
    ParallelBackendBase,
    SequentialBackend,
    ThreadingBackend,
    instance_for_parallel,
)
from ._batching import BatchedCalls
from ._config import get_config
from ._errors import WorkerInterrupt, parallel_timeout_error
from ._memmapping import parse_max_nbytes
from ._progress import ProgressHook, short_format_time, verbosity_filter
from ._registry import default_backend_name, get_backend_factory
from ._validation import (
    check_backend,
    check_batch_size,
    check_n_jobs,
    check_temp_folder,
    check_timeout,
    check_verbose,
    parse_pre_dispatch,
)

_RETURN_AS = ("list", "generator", "generator_unordered")


class _Default:
    """Marks a parameter left at its default, so that parallel_config applies."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def _given(value: Any, config: dict[str, Any], name: str) -> Any:
    if isinstance(value, _Default):
        setting = config.get(name)
        return value.value if setting is None else setting
    return value


def _resolve_backend(
    backend: Any,
    prefer: str | None,
    require: str | None,
    config: dict[str, Any],
    kwargs: dict[str, Any],
) -> tuple[ParallelBackendBase, bool]:
    """The backend instance to use and whether the user chose it explicitly."""
    explicit = True
    if backend is None:
        backend = config.get("backend")
        explicit = backend is not None and not config.get("_nested")
        if backend is None:
            backend = get_backend_factory(default_backend_name())()
        else:
            backend = instance_for_parallel(backend)
    elif isinstance(backend, str):
        backend = get_backend_factory(backend)(
            nesting_level=config.get("_nesting_level")
        )
    if prefer == "threads" and not explicit and not backend.uses_threads:
        backend = ThreadingBackend(nesting_level=backend.nesting_level)
    if require == "sharedmem" and not getattr(backend, "supports_sharedmem", False):
        backend = ThreadingBackend(nesting_level=backend.nesting_level)
    return backend, explicit


class _Batch:
    __slots__ = (
        "counted",
        "done",
        "error",
        "job",
        "result",
        "size",
        "started",
        "waited_since",
    )

    def __init__(self, size: int) -> None:
        self.size = size
        self.done = False
        self.counted = False  # in _n_completed_batches (frees a dispatch slot)
        self.error: BaseException | None = None
        self.result: Any = None
        self.job: Any = None
        self.started = time.monotonic()
        self.waited_since = 0.0


class Parallel:
    """Run tasks made with :func:`delayed` in parallel; return their results.

    Parameters
    ----------
    n_jobs : int or None, default None
        Maximum number of concurrent workers. -1 means all CPUs, -2 all but one
        (``n_cpus + 1 + n_jobs``); 0 is an error. None means 1 (no parallelism,
        useful to debug) unless a ``parallel_config`` context sets another value.
    backend : str, ParallelBackendBase or None
        ``'loky'`` (default: our process pool), ``'multiprocessing'``,
        ``'threading'``, ``'sequential'``, a registered or plug-in name, or an
        instance. Libraries should prefer ``prefer``/``require`` so that users can
        choose with ``parallel_config``.
    return_as : {'list', 'generator', 'generator_unordered'}, default 'list'
        A list in input order, a generator in input order (results are computed
        ahead, at most ``pre_dispatch`` batches) or a generator in completion order.
    verbose : int, default 0
        Progress messages: more with higher values, all above 10; on stderr below
        50 and on stdout from 50.
    timeout : float, optional
        Seconds a task may take; past it, ``TimeoutError`` is raised and the
        process workers running late tasks are killed (the pool heals).
    pre_dispatch : {'all', int, or an expression such as '2*n_jobs'}
        Number of batches dispatched ahead of the results; the input iterable is
        consumed lazily, a batch at a time.
    batch_size : int or 'auto', default 'auto'
        Tasks per batch; 'auto' grows batches of fast tasks toward a target
        duration and splits the tail into smaller batches.
    temp_folder, max_nbytes, mmap_mode
        Settings of the memory mapping of large arrays, accepted for joblib
        compatibility and kept on the instance.
    prefer : {'processes', 'threads'} or None
        Soft hint: the default backend when no backend was chosen explicitly.
    require : 'sharedmem' or None
        Hard constraint: 'sharedmem' selects a thread backend.
    progress : callable or object with ``update``, optional
        Progress hook called in the calling thread as work completes: an object
        with ``update(n)``/``close()`` such as ``tqdm(total=n)``, or a callable
        ``progress(n_completed, n_total)``.
    **backend_kwargs
        Passed to the backend's ``configure``.

    Examples
    --------
    >>> from math import sqrt
    >>> from joblet_parallel import Parallel, delayed
    >>> Parallel(n_jobs=1)(delayed(sqrt)(i**2) for i in range(10))
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    """

    def __init__(
        self,
        n_jobs: int | None = _Default(None),  # type: ignore[assignment]
        backend: str | ParallelBackendBase | None = None,
        return_as: str = "list",
        verbose: int = _Default(0),  # type: ignore[assignment]
        timeout: float | None = None,
        pre_dispatch: str | int = _Default("2 * n_jobs"),  # type: ignore[assignment]
        batch_size: int | str = _Default("auto"),  # type: ignore[assignment]
        temp_folder: str | None = _Default(None),  # type: ignore[assignment]
        max_nbytes: int | str | None = _Default("1M"),  # type: ignore[assignment]
        mmap_mode: str | None = _Default("r"),  # type: ignore[assignment]
        prefer: str | None = _Default(None),  # type: ignore[assignment]
        require: str | None = _Default(None),  # type: ignore[assignment]
        progress: Any = None,
        **backend_kwargs: Any,
    ) -> None:
        config = get_config()
        if isinstance(n_jobs, _Default) or n_jobs is None:
            # None means "unset", as in joblib: the configured n_jobs applies.
            n_jobs = config.get("n_jobs")
        n_jobs = check_n_jobs(n_jobs)
        self.verbose = check_verbose(_given(verbose, config, "verbose"))
        self.timeout = check_timeout(timeout)
        self.pre_dispatch = _given(pre_dispatch, {}, "pre_dispatch")
        parse_pre_dispatch(self.pre_dispatch, 1)  # fail now, not at the first call
        self.batch_size = check_batch_size(_given(batch_size, {}, "batch_size"))
        check_backend(backend)
        self.temp_folder = check_temp_folder(_given(temp_folder, config, "temp_folder"))
        self.max_nbytes = _given(max_nbytes, config, "max_nbytes")
        self.mmap_mode = _given(mmap_mode, config, "mmap_mode")
        parse_max_nbytes(self.max_nbytes)  # fail now, with advice, on a bad size
        if self.mmap_mode not in (None, "r+", "r", "w+", "c"):
            raise ValueError(
                f"mmap_mode must be one of None, 'r', 'r+', 'w+' or 'c', got {self.mmap_mode!r}"
            )
        prefer = _given(prefer, config, "prefer")
        require = _given(require, config, "require")
        if prefer not in (None, "processes", "threads"):
            raise ValueError(
                f"prefer must be None, 'processes' or 'threads', got {prefer!r}"
            )
        if require not in (None, "sharedmem"):
            raise ValueError(f"require must be None or 'sharedmem', got {require!r}")
        if return_as not in _RETURN_AS:
            raise ValueError(
                f"return_as must be one of {_RETURN_AS}, got {return_as!r}"
            )
        self.prefer, self.require, self.return_as = prefer, require, return_as
        if (
            isinstance(backend, ParallelBackendBase)
            and require == "sharedmem"
            and not backend.supports_sharedmem
        ):
            raise ValueError(f"Backend {backend} does not support shared memory")
        self._backend, self._explicit_backend = _resolve_backend(
            backend, prefer, require, config, backend_kwargs
        )
        backend_default = getattr(self._backend, "default_n_jobs", 1)
        # Still unset: the backend's default (1 for the built-in ones), as joblib.
        self.n_jobs = backend_default if n_jobs is None else n_jobs
        self._max_n_jobs = config.get("_max_n_jobs")
        self._backend_kwargs = backend_kwargs
        self._progress = ProgressHook(progress) if progress is not None else None
        self._managed = False
        self._running = False
        self._n_jobs = self.n_jobs
        self._print_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_jobs={self.n_jobs})"

    # -- context manager: reuse the workers across calls ----------------------
    def __enter__(self) -> Parallel:
        self._managed = True
        self._configure()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._managed = False
        self._backend.terminate()

    def _configure(self) -> int:
        n_jobs = self.n_jobs
        if self._max_n_jobs is not None:
            wanted = self._backend.effective_n_jobs(n_jobs)
            n_jobs = min(wanted, self._max_n_jobs)
        self._n_jobs = n_jobs
        return self._backend.configure(
            n_jobs=n_jobs,
            parallel=self,
            prefer=self.prefer,
            require=self.require,
            **self._backend_kwargs,
        )

    # -- messages ------------------------------------------------------------
    def _print(self, message: str) -> None:
        if not self.verbose:
            return
        stream = sys.stderr if self.verbose < 50 else sys.stdout
        with self._print_lock:
            stream.write(f"[{self}]: {message}\n")
            stream.flush()

    def _print_progress(self, finished: bool = False) -> None:
        if not self.verbose:
            return
        elapsed = time.monotonic() - self._start
        done = self._n_completed_tasks
        dispatched = (
            self._n_total_tasks if self._exhausted else self._n_dispatched_tasks
        )
        if finished:
            self._print(
                f"Done {done:3d} out of {done:3d} | elapsed: {short_format_time(elapsed)} finished"
            )
            return
        if not self._exhausted:
            if verbosity_filter(self._n_completed_batches - 1, self.verbose):
                return
            self._print(
                f"Done {done:3d} tasks      | elapsed: {short_format_time(elapsed)}"
            )
            return
        if done:
            cursor = dispatched - done + 1 - self._pre_dispatch_tasks
            frequency = (dispatched // self.verbose) + 1
            if done + 1 == dispatched or cursor % frequency:
                return
        remaining = (elapsed / done) * (dispatched - done) if done else 0.0
        self._print(
            f"Done {done:3d} out of {dispatched:3d} | elapsed: {short_format_time(elapsed)} "
            f"remaining: {short_format_time(remaining)}"
        )

    def _report(self) -> None:
        if self._progress is not None:
            total = self._n_total_tasks if self._exhausted else None
            self._progress.report(self._n_completed_tasks, total)

    # -- the call ------------------------------------------------------------
    def __call__(self, iterable: Iterable[Any]) -> Any:
        """Run the tasks of ``iterable``; see ``return_as`` for what comes back."""
        if self._running:
            raise RuntimeError(
                "This Parallel instance is already running: a call (or a generator it "
                "returned) is not finished. Exhaust or close the generator, or use "
                "another Parallel instance."
            )
        self._running = True
        try:
            n_jobs = self._configure()
            if n_jobs == 0:  # a backend with no worker (yet): joblib's error
                raise RuntimeError(
                    f"{type(self._backend).__name__} has no active worker."
                )
            self._start = time.monotonic()
            self._reset_counters()
            if self.verbose:
                self._print(
                    f"Using backend {type(self._backend).__name__} with {n_jobs} concurrent workers."
                )
            if n_jobs == 1 or isinstance(self._backend, SequentialBackend):
                if (
                    self.return_as == "list"
                    and not self.verbose
                    and self._progress is None
                ):
                    output = [func(*args, **kwargs) for func, args, kwargs in iterable]
                    self._finish_call()
                    return output
                outputs = self._sequential(iterable)
            else:
                outputs = self._parallel(iter(iterable), n_jobs)
            if self.return_as == "list":
                return list(outputs)
            generator = outputs
            next_item = next(generator, _END)  # start the work now, as joblib does
            return self._resume(next_item, generator)
        except BaseException:
            self._finish_call()
            raise

    def _resume(self, first: Any, generator: Iterator[Any]) -> Iterator[Any]:
        if first is _END:
            return
        yield first
        yield from generator

    def _reset_counters(self) -> None:
        self._n_completed_tasks = 0
        self._n_completed_batches = 0
        self._n_dispatched_tasks = 0
        self._n_dispatched_batches = 0
        self._n_total_tasks = 0
        self._exhausted = False
        self._pre_dispatch_tasks = 0

    def _finish_call(self) -> None:
        self._running = False
        if not self._managed:
            try:
                self._backend.terminate()
            except Exception:
                pass

    def _sequential(self, iterable: Iterable[Any]) -> Iterator[Any]:
        try:
            for func, args, kwargs in iterable:
                self._n_dispatched_tasks += 1
                self._n_dispatched_batches += 1
                result = func(*args, **kwargs)
                self._n_completed_tasks += 1
                self._n_completed_batches += 1
                if self.verbose:
                    self._print_progress()
                self._report()
                yield result
            self._n_total_tasks = self._n_dispatched_tasks
            self._exhausted = True
            self._report()
            self._print_progress(finished=True)
        finally:
            if self._progress is not None:
                self._progress.close()
            self._finish_call()

    def _parallel(self, iterator: Iterator[Any], n_jobs: int) -> Iterator[Any]:
        backend = self._backend
        lock = threading.Condition()
        ahead = parse_pre_dispatch(self.pre_dispatch, n_jobs)
        auto = self.batch_size == "auto"
        nested_backend, nested_max = _nested_backend(backend)
        ordered = self.return_as != "generator_unordered"
        lazy_output = self.return_as != "list"
        jobs: deque[_Batch] = deque()
        completed: deque[_Batch] = deque()
        ready: deque[list[Any]] = deque()
        state: dict[str, Any] = {
            "error": None,
            "aborted": False,
            "consumed": 0,
            "dispatching": False,
        }
        callback_retrieval = backend.supports_retrieve_callback
        dispatch_lock = threading.Lock()

        def next_items() -> list[Any] | None:
            if ready:
                return ready.popleft()
            if self._exhausted:
                return None
            size = backend.compute_batch_size() if auto else self.batch_size
            if size == 1:
                items = list(itertools.islice(iterator, 1))
                if not items:
                    self._n_total_tasks = self._n_dispatched_tasks
                    self._exhausted = True
                    return None
                return items
            big = size * n_jobs
            items = list(itertools.islice(iterator, big))
            if len(items) < big:
                self._n_total_tasks = self._n_dispatched_tasks + len(items)
                self._exhausted = True
                if not items:
                    return None
                piece = max(1, len(items) // (2 * n_jobs)) if auto else size
            else:
                piece = size
            for start in range(0, len(items), piece):
                ready.append(items[start : start + piece])
            return ready.popleft()

        def may_dispatch() -> bool:
            if state["aborted"] or state["error"] is not None:
                return False
            if ahead is None:
                return True
            in_flight = self._n_dispatched_batches - self._n_completed_batches
            if in_flight >= ahead:
                return False
            return not (
                lazy_output
                and self._n_dispatched_batches - state["consumed"] >= 2 * ahead + n_jobs
            )

        def dispatch(limit: int | None = None) -> bool:
            """Dispatch batches while allowed; return whether any was sent."""
            sent = 0
            me = threading.get_ident()
            if state["dispatching"] == me:
                return False  # a callback run inside submit(): the loop below goes on
            with dispatch_lock:
                state["dispatching"] = me
                try:
                    sent = dispatch_loop(limit)
                finally:
                    state["dispatching"] = None
            return sent > 0

        def dispatch_loop(limit: int | None) -> int:
            sent = 0
            while may_dispatch() and (limit is None or sent < limit):
                items = next_items()
                if items is None:
                    with lock:
                        lock.notify_all()
                    break
                batch = _Batch(len(items))
                calls = BatchedCalls(items, nested_backend, nested_max)
                with lock:
                    jobs.append(batch)
                    self._n_dispatched_batches += 1
                    self._n_dispatched_tasks += len(items)
                batch.started = time.monotonic()
                batch.job = backend.submit(calls, callback=_make_callback(batch))
                sent += 1
            return sent

        def on_done(batch: _Batch, out: Any) -> None:
            try:
                on_done_unsafe(batch, out)
            except BaseException as exc:
                # E.g. progress printing to a broken stream: the call must fail
                # with it, not wait forever for a batch that was never marked done.
                with lock:
                    if state["error"] is None:
                        state["error"] = exc
                    lock.notify_all()

        def on_done_unsafe(batch: _Batch, out: Any) -> None:
            if state["aborted"]:
                return
            if not callback_retrieval:
                # joblib's protocol: whatever the callback receives (the result,
                # the future-like object submit returned, nothing), the result is
                # read through the returned object by _retrieve_legacy.
                backend.batch_completed(batch.size, time.monotonic() - batch.started)
                with lock:
                    if not batch.counted:
                        batch.counted = True
                        self._n_completed_batches += 1
                    lock.notify_all()
                dispatch_after_completion()
                return
            error = None
            result = None
            try:
                result = backend.retrieve_result_callback(out)
            except BaseException as exc:
                error = _caller_error(exc)
            duration = getattr(out, "duration", 0.0) or (
                time.monotonic() - batch.started
            )
            if error is None:
                backend.batch_completed(batch.size, duration)
            with lock:
                if state["aborted"]:
                    return
                batch.result, batch.error, batch.done = result, error, True
                if error is None:
                    self._n_completed_tasks += batch.size
                elif state["error"] is None:
                    state["error"] = error
                self._n_completed_batches += 1
                if not ordered:
                    completed.append(batch)
                lock.notify_all()
            if error is None:
                if self.verbose:
                    self._print_progress()
                dispatch_after_completion()

        def dispatch_after_completion() -> None:
            try:
                dispatch()
            except BaseException as exc:
                with lock:
                    if state["error"] is None:
                        state["error"] = exc
                    lock.notify_all()

        def _make_callback(batch: _Batch) -> Callable[[Any], None]:
            return lambda out: on_done(batch, out)

        backend.start_call()
        try:
            if ahead is not None and not auto:
                self._pre_dispatch_tasks = ahead * (
                    self.batch_size if isinstance(self.batch_size, int) else 1
                )
            else:
                self._pre_dispatch_tasks = ahead or 0
            dispatch()
            with backend.retrieval_context():
                while True:
                    batch = None
                    with lock:
                        while True:
                            error = state["error"]
                            if error is not None:
                                break
                            if ordered:
                                if jobs and jobs[0].done:
                                    batch = jobs.popleft()
                                    break
                            elif completed:
                                batch = completed.popleft()
                                break
                            if not jobs and self._exhausted and not ready:
                                break
                            pending_head = self._first_pending(jobs)
                            if pending_head is None and not self._exhausted:
                                break  # nothing in flight: dispatch more below
                            wait = 0.1
                            if self.timeout is not None and pending_head is not None:
                                now = time.monotonic()
                                if not pending_head.waited_since:
                                    pending_head.waited_since = now
                                since = max(
                                    pending_head.waited_since, pending_head.started
                                )
                                left = self.timeout - (now - since)
                                if left <= 0:
                                    state["error"] = self._timeout_error()
                                    break
                                wait = min(wait, left)
                            if not callback_retrieval and pending_head is not None:
                                break
                            lock.wait(wait)
                            if self._progress is not None:
                                break
                    if state["error"] is not None:
                        raise state["error"]
                    if batch is None:
                        if not callback_retrieval:
                            head = self._first_pending(jobs)
                            if head is not None:
                                self._retrieve_legacy(
                                    head, lock, state, ordered, completed
                                )
                        self._report()
                        if not jobs and self._exhausted and not ready:
                            break
                        if self._first_pending(jobs) is None and not self._exhausted:
                            dispatch()
                        continue
                    if not ordered:
                        with lock:
                            try:
                                jobs.remove(batch)
                            except ValueError:
                                pass
                    state["consumed"] += 1
                    self._report()
                    result = batch.result
                    batch.result = None
                    if lazy_output:
                        dispatch()
                        yield from result
                    else:
                        yield from result
            self._report()
            self._print_progress(finished=True)
            backend.stop_call()
        except BaseException:
            with lock:
                state["aborted"] = True
            try:
                backend.abort_everything(ensure_ready=self._managed)
            except Exception:
                pass
            raise
        finally:
            if self._progress is not None:
                self._progress.close()
            self._finish_call()

    def _timeout_error(self) -> Exception:
        if self._backend.uses_threads:
            what = (
                "threads cannot be stopped: the tasks still running go on in the "
                "background until they end"
            )
        else:
            what = "the workers running late tasks were stopped"
        return parallel_timeout_error(
            f"a task took more than timeout={self.timeout} s; {what}"
        )

    @staticmethod
    def _first_pending(jobs: deque[_Batch]) -> _Batch | None:
        for batch in jobs:
            if not batch.done:
                return batch
        return None

    def _retrieve_legacy(
        self,
        head: _Batch,
        lock: Any,
        state: dict[str, Any],
        ordered: bool,
        completed: deque[_Batch],
    ) -> None:
        """Backends whose callback only receives successes: block on the future."""
        waited = time.monotonic()
        try:
            if self.timeout is not None and self._backend.supports_timeout:
                result = self._backend.retrieve_result(head.job, timeout=self.timeout)
            else:
                result = self._backend.retrieve_result(head.job)
        except BaseException as error:
            expired = (
                self.timeout is not None
                and time.monotonic() - waited >= self.timeout
                and _is_timeout(error)
            )
            with lock:
                if state["error"] is None:
                    state["error"] = (
                        self._timeout_error() if expired else _caller_error(error)
                    )
            return
        with lock:
            if not head.done:
                head.result, head.done = result, True
                self._n_completed_tasks += head.size
                if not head.counted:  # its callback did not run (yet, or ever)
                    head.counted = True
                    self._n_completed_batches += 1
                if not ordered:
                    completed.append(head)


_END = object()


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


def effective_n_jobs(n_jobs: int | None = -1) -> int:
    """Number of workers ``n_jobs`` means with the active backend.

    Parameters
    ----------
    n_jobs : int or None, default -1
        As for :class:`Parallel`; None takes the ``parallel_config`` value.

    Returns
    -------
    int
    """
    if n_jobs == 1:
        return 1
    config = get_config()
    if n_jobs is None:
        n_jobs = config.get("n_jobs")
    backend, _ = _resolve_backend(None, None, None, config, {})
    value = backend.effective_n_jobs(n_jobs)
    cap = config.get("_max_n_jobs")
    return min(value, cap) if cap is not None else value
