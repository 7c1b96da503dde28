"""Parallel: run an iterable of delayed tasks on a backend."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from types import MappingProxyType
from typing import Any

from ._backend_choice import resolve_backend
from ._backends import (
    ParallelBackendBase,
    SequentialBackend,
    claim_backend,
    release_backend,
)
from ._call_settings import CallSettings
from ._config import DEFAULTS, get_config
from ._dispatch import STARTED, CallDispatch
from ._failures import (
    FailurePolicy,
    check_call_support,
    check_failure_options,
    run_inline,
)
from ._memmapping import parse_max_nbytes
from ._progress import CallProgress, ProgressHook
from ._registry import gil_disabled, name_of_backend
from ._statistics import CallStatistics
from ._validation import (
    check_backend,
    check_batch_size,
    check_choice,
    check_n_jobs,
    check_temp_folder,
    check_timeout,
    check_verbose,
    parse_pre_dispatch,
    refuse_worker_options,
)
from ._warnings import warn


class _Default:
    """Marks a parameter left at its default, so that parallel_config applies."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def _configurable(name: str) -> Any:
    """The default of a parameter that ``parallel_config`` may set.

    Its value is ``_config.DEFAULTS``' (the one home of these defaults), shown
    in the signature; typed ``Any`` so the parameters keep their own types.
    """
    return _Default(DEFAULTS[name])


def _given(value: Any, config: dict[str, Any], name: str) -> Any:
    if isinstance(value, _Default):
        setting = config.get(name)
        return value.value if setting is None else setting
    return value


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
    return_exceptions : bool, default False
        A task that raises gives its exception object (with the worker's
        traceback as ``__cause__``) in its place in the output, and the other
        tasks run to the end. False is joblib's fail-fast.
    retries : int, default 0
        A task whose worker died (killed, segfault, out of memory) is sent again
        to a healed pool, up to this many times. A task that raised is retried
        only when ``retry_on`` names its type. The final error says how many
        attempts were made and why each failed.
    retry_on : exception class or tuple of them, default ()
        Exceptions raised by a task that are worth retrying (``ConnectionError``,
        or ``TimeoutError`` for tasks past ``task_timeout``).
    task_timeout : float, optional
        Seconds each task may run (process workers): the worker running a late
        task is stopped and replaced, the task fails with ``TaskTimeoutError``
        (a ``TimeoutError``) and the rest of the call goes on. Tasks are sent one
        at a time so that each has its own clock. ``timeout`` keeps joblib's
        meaning (the whole call fails).
    **backend_kwargs
        Passed to the backend's ``configure``: for example ``initializer=`` and
        ``initargs=`` (``initializer(*initargs)`` runs once in each new worker
        of the ``'loky'`` and ``'multiprocessing'`` backends), or options of the
        process backend such as ``idle_worker_timeout``.

    Examples
    --------
    >>> from math import sqrt
    >>> from joblet_parallel import Parallel, delayed
    >>> Parallel(n_jobs=1)(delayed(sqrt)(i**2) for i in range(10))
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    """

    def __init__(
        self,
        n_jobs: int | None = _configurable("n_jobs"),
        backend: str | ParallelBackendBase | None = None,
        return_as: str = "list",
        verbose: int = _configurable("verbose"),
        timeout: float | None = None,
        pre_dispatch: str | int = "2 * n_jobs",
        batch_size: int | str = "auto",
        temp_folder: str | None = _configurable("temp_folder"),
        max_nbytes: int | str | None = _configurable("max_nbytes"),
        mmap_mode: str | None = _configurable("mmap_mode"),
        prefer: str | None = _configurable("prefer"),
        require: str | None = _configurable("require"),
        progress: Any = None,
        return_exceptions: bool = _configurable("return_exceptions"),
        retries: int = _configurable("retries"),
        retry_on: tuple[Any, ...] = _configurable("retry_on"),
        task_timeout: float | None = _configurable("task_timeout"),
        **backend_kwargs: Any,
    ) -> None:
        config = get_config()
        unset = isinstance(n_jobs, _Default) or n_jobs is None
        if unset:
            # None means "unset", as in joblib: the configured n_jobs applies.
            n_jobs = config.get("n_jobs")
        n_jobs = check_n_jobs(n_jobs)
        self.verbose = check_verbose(_given(verbose, config, "verbose"))
        self.timeout = check_timeout(timeout)
        self.pre_dispatch = pre_dispatch
        parse_pre_dispatch(self.pre_dispatch, 1)  # fail now, not at the first call
        self.batch_size = check_batch_size(batch_size)
        check_backend(backend)
        self.temp_folder = check_temp_folder(_given(temp_folder, config, "temp_folder"))
        self.max_nbytes = _given(max_nbytes, config, "max_nbytes")
        self.mmap_mode = _given(mmap_mode, config, "mmap_mode")
        parse_max_nbytes(self.max_nbytes)  # fail now, with advice, on a bad size
        check_choice("mmap_mode", self.mmap_mode)
        prefer = check_choice("prefer", _given(prefer, config, "prefer"))
        require = check_choice("require", _given(require, config, "require"))
        self.prefer, self.require = prefer, require
        self.return_as = check_choice("return_as", return_as)
        # The instance a call runs on is claimed from this one at each call.
        self._backend_source, switched = resolve_backend(
            backend, prefer, require, config, self.verbose
        )
        if switched and unset:
            n_jobs = None  # the configured n_jobs was meant for the other backend
        self._backend = self._backend_source
        self._backend_name = backend if isinstance(backend, str) else None
        # Nothing chose a backend: the interpreter's default did (see verbose).
        self._by_default = backend is None and config.get("backend") is None
        self._claimed = False
        backend_default = getattr(self._backend, "default_n_jobs", 1)
        # Still unset: the backend's default (1 for the built-in ones), as joblib.
        self.n_jobs = backend_default if n_jobs is None else n_jobs
        self._max_n_jobs = config.get("_max_n_jobs")
        self._backend_kwargs = backend_kwargs
        self._progress = ProgressHook(progress) if progress is not None else None
        (
            self.return_exceptions,
            self.retries,
            self.retry_on,
            self.task_timeout,
        ) = check_failure_options(
            _given(return_exceptions, config, "return_exceptions"),
            _given(retries, config, "retries"),
            _given(retry_on, config, "retry_on"),
            _given(task_timeout, config, "task_timeout"),
        )
        #: What a failed task does to the call (the dispatcher reads it too).
        self.failure_policy = FailurePolicy(
            self.return_exceptions, self.retries, self.retry_on
        )
        self._managed = False
        self._running = False
        self._n_jobs = self.n_jobs
        self._print_lock = threading.Lock()
        #: The counts of the current (or last) call, written by its dispatcher.
        self.statistics = CallStatistics()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_jobs={self.n_jobs})"

    # -- context manager: reuse the workers across calls ----------------------
    def __enter__(self) -> Parallel:
        self._managed = True
        self._claim_backend()
        self._configure()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._managed = False
        try:
            self._backend.terminate()
        finally:
            self._release_backend()

    def _configure(self) -> int:
        n_jobs = self.n_jobs
        if self._max_n_jobs is not None:
            wanted = self._backend.effective_n_jobs(n_jobs)
            n_jobs = min(wanted, self._max_n_jobs)
            if n_jobs == 1 < wanted and not self._backend.uses_threads:
                # as joblib 1.6 says of process-backed calls it limits
                warn(
                    "Process-backed parallel loops cannot be nested below "
                    "processes beyond each worker's share of the CPUs (here 1), "
                    "setting n_jobs=1; give the outer loop fewer jobs, or run "
                    "the inner one on threads (prefer='threads')"
                )
        self._n_jobs = n_jobs
        refuse_worker_options(self._backend, self._backend_kwargs)
        #: What the backend reads of this call (see CallSettings).
        self.call_settings = CallSettings(
            n_jobs=n_jobs,
            backend_kwargs=MappingProxyType(dict(self._backend_kwargs)),
            max_nbytes=self.max_nbytes,
            mmap_mode=self.mmap_mode,
            temp_folder=self.temp_folder,
            verbose=self.verbose,
            managed=self._managed,
            log=self._print,
        )
        # As joblib: backends written for it take only these (no prefer/require).
        return self._backend.configure(
            n_jobs=n_jobs, parallel=self, **self._backend_kwargs
        )

    # -- messages ------------------------------------------------------------
    def _print(self, message: str) -> None:
        if not self.verbose:
            return
        stream = sys.stderr if self.verbose < 50 else sys.stdout
        with self._print_lock:
            stream.write(f"[{self}]: {message}\n")
            stream.flush()

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
        if not self._managed:
            self._claim_backend()
        try:
            n_jobs = self._configure()
            check_call_support(
                self._backend,
                n_jobs,
                self.task_timeout,
                self.timeout,
                self.retries,
                self.retry_on,
            )
            if n_jobs == 0:  # a backend with no worker (yet): joblib's error
                raise RuntimeError(
                    f"{type(self._backend).__name__} has no active worker."
                )
            self._reset_counters()
            progress = CallProgress(
                self.statistics, self.verbose, self._print, self._progress
            )
            if self.verbose:
                why = ""
                if self._by_default and gil_disabled():
                    why = " (threads by default: this interpreter runs without the GIL)"
                self._print(
                    f"Using backend {self._backend_label()} with {n_jobs} concurrent "
                    f"workers.{why}"
                )
            inline = n_jobs == 1 and getattr(self._backend, "inline_single_job", True)
            if inline or isinstance(self._backend, SequentialBackend):
                if isinstance(self.batch_size, int) and self.batch_size > 1:
                    iterable = _read_ahead(iterable, self.batch_size)
                if (
                    self.return_as == "list"
                    and not self.verbose
                    and self._progress is None
                    and not self.failure_policy.active
                ):
                    output = [func(*args, **kwargs) for func, args, kwargs in iterable]
                    self._finish_call()
                    return output
                outputs = self._sequential(iterable, progress)
            else:
                lazy = self.return_as != "list"
                dispatch = CallDispatch(
                    self,
                    self._backend,
                    iter(iterable),
                    n_jobs,
                    progress=progress,
                    on_end=self._finish_call,
                    managed=self._managed,
                )
                batches = dispatch.run(lazy)
                if not lazy:
                    output = []
                    for results in batches:  # a batch at a time: no per-task yield
                        output.extend(results)
                    return output
                outputs = _each_result(batches)
            if self.return_as == "list":
                return list(outputs)
            # Start the work now, as joblib does; a task's error is raised by
            # the generator in the task's place, never by the call.
            next(outputs)
            return outputs
        except BaseException:
            self._finish_call()
            raise

    def _reset_counters(self) -> None:
        self.statistics = CallStatistics()

    def _finish_call(self) -> None:
        self._running = False
        if not self._managed:
            try:
                self._backend.terminate()
            except Exception:
                pass
            finally:
                self._release_backend()

    def _backend_label(self) -> str:
        """The backend as the user wrote it (``'loky'``), else its class name."""
        name = self._backend_name
        if name is None or type(self._backend) is not type(self._backend_source):
            name = name_of_backend(self._backend)
        return repr(name) if name is not None else type(self._backend).__name__

    def _claim_backend(self) -> None:
        self._backend = claim_backend(self._backend_source)
        self._claimed = True

    def _release_backend(self) -> None:
        # Once per claim: a second release could free another call's claim.
        if self._claimed:
            self._claimed = False
            release_backend(self._backend)

    def _sequential(
        self, iterable: Iterable[Any], progress: CallProgress
    ) -> Iterator[Any]:
        """The tasks run one by one as the output is consumed; first yields
        :data:`STARTED` (unless the output is a list)."""
        try:
            if self.return_as != "list":
                yield STARTED
            for func, args, kwargs in iterable:
                self.statistics.dispatched_tasks += 1
                self.statistics.dispatched_batches += 1
                result = run_inline(self.failure_policy, func, args, kwargs)
                self.statistics.completed_tasks += 1
                self.statistics.completed_batches += 1
                progress.step()
                progress.report()
                yield result
            self.statistics.total_tasks = self.statistics.dispatched_tasks
            self.statistics.exhausted = True
            progress.finish()
        finally:
            progress.close()
            self._finish_call()


def _read_ahead(iterable: Iterable[Any], batch_size: int) -> Iterator[Any]:
    """The tasks of ``iterable``, each batch of ``batch_size`` read before its
    first task runs: with one job, the input is consumed batch by batch, as
    joblib does."""
    iterator = iter(iterable)
    while batch := list(islice(iterator, batch_size)):
        yield from batch


def _each_result(batches: Iterator[Any]) -> Iterator[Any]:
    """The results of ``batches`` one by one (passing :data:`STARTED` on);
    closing this closes ``batches`` (which aborts the call)."""
    try:
        for results in batches:
            if results is STARTED:
                yield STARTED
                continue
            yield from results
    finally:
        batches.close()  # type: ignore[attr-defined]


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
    backend, _ = resolve_backend(None, None, None, config)
    value = backend.effective_n_jobs(n_jobs)
    cap = config.get("_max_n_jobs")
    return min(value, cap) if cap is not None else value


def get_active_backend(
    prefer: str | None = None, require: str | None = None
) -> tuple[ParallelBackendBase, int | None]:
    """The backend and ``n_jobs`` that a ``Parallel()`` created here would use.

    As joblib's ``parallel.get_active_backend``: the backend set by the innermost
    ``parallel_config`` (the very instance ``Parallel`` runs on), else the default
    backend, adjusted for ``prefer``/``require``; ``n_jobs`` is the configured
    value, None when none was set.

    Parameters
    ----------
    prefer, require : str, optional
        As for :class:`Parallel`.

    Returns
    -------
    (ParallelBackendBase, int or None)

    Examples
    --------
    >>> from joblet_parallel import get_active_backend, parallel_config
    >>> with parallel_config(backend="threading", n_jobs=2):
    ...     backend, n_jobs = get_active_backend()
    >>> type(backend).__name__, n_jobs
    ('ThreadingBackend', 2)
    """
    config = get_config()
    prefer = config.get("prefer") if prefer is None else prefer
    require = config.get("require") if require is None else require
    backend, switched = resolve_backend(None, prefer, require, config)
    return backend, None if switched else config.get("n_jobs")
