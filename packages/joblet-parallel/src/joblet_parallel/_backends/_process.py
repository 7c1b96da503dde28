"""Our process executor as a backend ('loky')."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from .._batching import BatchedCalls
from .._cpu import cpu_count
from .._validation import refuse_unknown_options
from ._auto_batching import AutoBatchingMixin
from ._base import (
    ParallelBackendBase,
    SequentialBackend,
    _effective_n_jobs,
    limit_below_threads,
)
from ._claims import CopiedPerCall
from ._large_arrays import _SharesLargeArrays
from ._threading import ThreadingBackend


class ProcessBackend(
    CopiedPerCall, _SharesLargeArrays, AutoBatchingMixin, ParallelBackendBase
):
    """Our process executor: a reusable pool of worker processes ('loky').

    Workers start with a fresh interpreter (never ``fork``), functions travel
    with cloudpickle and data with pickle protocol 5. The pool is shared by every
    call with the same worker settings and survives between calls; a worker that
    dies raises :class:`TerminatedWorkerError` and is replaced.

    Parameters
    ----------
    idle_worker_timeout : float, default 300
        Seconds after which an idle worker exits.
    initializer, initargs
        ``initializer(*initargs)`` runs once in each new worker.
    max_memory_growth : int or None, default 300 MB
        A worker whose resident memory grew by more than this many bytes since
        the end of its first batch (after a garbage collection) is replaced once
        its current batch is answered. None or 0 turns the check off.
    memory_check_interval : float, default 0.0
        Least number of seconds between two memory checks in a worker. 0 checks
        after every batch (reading the resident size costs microseconds); a
        larger value lets a worker run more batches before a check.
    reducers : dict, optional
        ``{type: reduce_function}`` applied when pickling tasks for the workers
        (copyreg style); the hook where large arguments are reduced before sending.
    forward_output : bool, default True
        Forward the workers' ``print`` output (stdout, stderr), ``logging``
        records and warnings to this process's current ``sys.stdout``,
        ``sys.stderr``, loggers and warnings. False leaves worker output on the
        workers' own file descriptors.
    prefix_output : bool, default False
        Start each forwarded line with ``[worker N] ``.
    max_tasks_per_child : int, optional
        Replace a worker after it ran this many tasks (``Parallel`` caps its
        batches at this size, so a worker never runs more).
    """

    supports_timeout = True
    supports_retrieve_callback = True
    supports_return_generator = True
    supports_inner_max_num_threads = True
    supports_task_timeout = True  # a late task's worker is stopped and replaced
    MIN_IDEAL_BATCH_DURATION = 0.05
    MAX_IDEAL_BATCH_DURATION = 1.0
    BATCH_GROWTH = 16
    per_call_state: ClassVar[dict[str, Any]] = {
        **CopiedPerCall.per_call_state,
        "_pool": None,
        "_memmapper": None,
        "_call_jobs": set(),
        "_output": None,
        "_functions": None,
    }

    def __init__(
        self,
        nesting_level: int | None = None,
        inner_max_num_threads: int | None = None,
        idle_worker_timeout: float = 300.0,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        max_memory_growth: int = 300 * 1024**2,
        memory_check_interval: float = 0.0,
        reducers: dict[type, Callable[[Any], Any]] | None = None,
        forward_output: bool = True,
        prefix_output: bool = False,
        max_tasks_per_child: int | None = None,
        **backend_kwargs: Any,
    ) -> None:
        super().__init__(
            nesting_level=nesting_level,
            inner_max_num_threads=inner_max_num_threads,
            **backend_kwargs,
        )
        refuse_unknown_options(self, self.backend_kwargs, "backend parameters")
        self._set_worker_options(forward_output, prefix_output, max_tasks_per_child)
        self._output: Any = None
        self._functions: Any = None  # CallFunctions of the running call
        self.idle_worker_timeout = idle_worker_timeout
        self.initializer = initializer
        self.initargs = tuple(initargs)
        self.max_memory_growth = max_memory_growth
        self.memory_check_interval = memory_check_interval
        self.reducers: dict[type, Callable[[Any], Any]] = dict(reducers or {})
        self._pool: Any = None
        self._n_jobs = 1
        self._call_jobs: set[Any] = set()

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        return limit_below_threads(self, _effective_n_jobs(n_jobs))

    def _set_worker_options(
        self,
        forward_output: bool,
        prefix_output: bool,
        max_tasks_per_child: int | None,
    ) -> None:
        from .._executor._options import check_worker_options

        check_worker_options(forward_output, prefix_output, max_tasks_per_child)
        self.forward_output = forward_output
        self.prefix_output = prefix_output
        self.max_tasks_per_child = max_tasks_per_child

    def _instance_for_parallel(self) -> ProcessBackend:
        """A copy with no call state, for one ``Parallel`` object (see
        :func:`claim_backend`); its reducers are its own."""
        clone: ProcessBackend = super()._instance_for_parallel()
        clone.reducers = dict(self.reducers)
        return clone

    def _configure_workers(
        self,
        n_jobs: int | None,
        *,
        idle_worker_timeout: float | None = None,
        forward_output: bool | None = None,
        prefix_output: bool | None = None,
        max_tasks_per_child: int | None = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] | None = None,
        **backend_kwargs: Any,
    ) -> int:
        refuse_unknown_options(self, backend_kwargs, "keyword arguments")
        if initializer is not None:  # Parallel(initializer=...), as in joblib
            self.initializer = initializer
        if initargs is not None:
            self.initargs = tuple(initargs)
        self._set_worker_options(
            self.forward_output if forward_output is None else forward_output,
            self.prefix_output if prefix_output is None else prefix_output,
            self.max_tasks_per_child
            if max_tasks_per_child is None
            else max_tasks_per_child,
        )
        n_jobs = self.effective_n_jobs(n_jobs)
        if idle_worker_timeout is not None:
            self.idle_worker_timeout = idle_worker_timeout
        if n_jobs == 1:
            return 1
        from .._executor import get_pool

        self._n_jobs = n_jobs
        previous = self._pool
        self._pool = get_pool(
            n_workers=n_jobs,
            env=self._prepare_worker_env(n_jobs),
            initializer=self.initializer,
            initargs=self.initargs,
            idle_timeout=self.idle_worker_timeout,
            max_memory_growth=self.max_memory_growth,
            memory_check_interval=self.memory_check_interval,
            max_tasks_per_child=self.max_tasks_per_child,
        )
        if previous is not None:
            self._release_pool(previous)
        self._prepare_memmapping(self.settings, self._pool)
        return n_jobs

    @staticmethod
    def _release_pool(pool: Any) -> None:
        from .._executor import release_pool

        release_pool(pool)

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        from .._pickling import dumps_task

        if self._output is None:
            self.start_call()
        reducers = self._task_reducers(self.reducers)
        functions = self._functions
        if isinstance(func, BatchedCalls):
            functions.reducers = reducers
            func.sent_functions = functions
        try:
            payload = dumps_task(func, reducers)
        finally:
            if isinstance(func, BatchedCalls):
                func.sent_functions = None
        job = self._pool.submit(
            payload,
            callback,
            getattr(func, "describe", None),
            output=self._output,
            n_tasks=len(func) if hasattr(func, "__len__") else 1,
            time_limit=getattr(func, "time_limit", None),
            functions=functions.keys_in(payload[1]),
        )
        self._call_jobs.add(job)
        return job

    def retrieve_result_callback(self, out: Any) -> Any:
        self._call_jobs.discard(out)
        return out.result()

    def start_call(self) -> None:
        from .._executor import OutputSink
        from .._pickling import dumps_in_band
        from .._sent_functions import CallFunctions

        self._call_jobs = set()
        # One sink per call: a warning repeated by many tasks shows once a call.
        self._output = OutputSink(self.forward_output, self.prefix_output)
        self._functions = CallFunctions(dumps_in_band)

    def stop_call(self) -> None:
        self._call_jobs = set()
        self._output = self._functions = None

    def abort_everything(self, ensure_ready: bool = True) -> None:
        """Cancel queued batches; kill the workers still running this call's tasks."""
        jobs, self._call_jobs = self._call_jobs, set()
        if self._pool is not None and jobs:
            self._pool.cancel(jobs, kill_running=True)

    def terminate(self) -> None:
        # The pool outlives the call: it is shared and reused (idle workers time
        # out); releasing it lets a pool with other settings replace it.
        pool, self._pool = self._pool, None
        if pool is not None:
            self._release_pool(pool)
        self._cleanup_memmapping()
        # As joblib: the next call's batches start small again (tasks may differ).
        self.reset_batch_stats()

    def get_nested_backend(self) -> tuple[ParallelBackendBase, int | None]:
        level = (self.nesting_level or 0) + 1
        if level > 1:
            return SequentialBackend(nesting_level=level), None
        share = max(1, cpu_count() // max(self._n_jobs, 1))
        if share == 1:
            return SequentialBackend(nesting_level=level), 1
        return ThreadingBackend(nesting_level=level), share
