"""The backend protocol (joblib's, so joblib backends port by changing imports)
and the built-in backends: sequential, threading, multiprocessing and our
process executor (named 'loky' for joblib code)."""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

from ._cpu import cpu_count
from ._memmapping import ArrayMemmapper
from ._validation import check_effective_n_jobs, refuse_unknown_options

__all__ = [
    "AutoBatchingMixin",
    "MultiprocessingBackend",
    "ParallelBackendBase",
    "ProcessBackend",
    "SequentialBackend",
    "ThreadingBackend",
]


class ParallelBackendBase(metaclass=ABCMeta):
    """Base class of Parallel backends (joblib's protocol).

    A backend runs batches for ``Parallel``. Subclasses implement
    :meth:`effective_n_jobs` and :meth:`submit` (or the older :meth:`apply_async`);
    everything else has a working default. ``Parallel`` calls, in order:
    :meth:`configure` (returns the number of workers), :meth:`start_call`, then
    :meth:`submit` for each batch, :meth:`retrieve_result_callback` or
    :meth:`retrieve_result` to read each result, :meth:`stop_call`, and
    :meth:`terminate` when the call (or the ``with Parallel`` block) ends.
    :meth:`abort_everything` is called after an error or a timeout.

    Attributes
    ----------
    supports_timeout : bool
        ``retrieve_result`` honours its ``timeout`` argument.
    supports_retrieve_callback : bool
        The callback given to ``submit`` receives a future-like object and
        ``Parallel`` calls :meth:`retrieve_result_callback` on it (errors included);
        otherwise the callback receives the batch's list of results and only on
        success.
    supports_return_generator : bool
        Results may be consumed as they come (``return_as='generator'``).
    supports_inner_max_num_threads : bool
        The backend limits BLAS/OpenMP threads in its workers.
    supports_sharedmem : bool
        Workers share the caller's memory (threads).
    uses_threads : bool
        Workers are threads of this process.
    """

    default_n_jobs = 1
    supports_timeout = False
    supports_retrieve_callback = False
    supports_return_generator = False
    supports_inner_max_num_threads = False
    supports_sharedmem = False
    uses_threads = False
    nesting_level: int | None = None

    MAX_NUM_THREADS_VARS = (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "BLIS_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMBA_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    )
    TBB_ENABLE_IPC_VAR = "ENABLE_IPC"

    def __init__(
        self,
        nesting_level: int | None = None,
        inner_max_num_threads: int | None = None,
        **backend_kwargs: Any,
    ) -> None:
        super().__init__()
        self.nesting_level = nesting_level
        self.inner_max_num_threads = inner_max_num_threads
        self.backend_kwargs = backend_kwargs
        self.parallel: Any = None

    @abstractmethod
    def effective_n_jobs(self, n_jobs: int | None) -> int:
        """The number of workers ``n_jobs`` means for this backend (>= 1)."""

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        """Schedule ``func()`` (a batch); call ``callback`` when it is done.

        Returns a future-like object with ``get(timeout=None)`` or ``result()``.
        """
        return self.apply_async(func, callback=callback)

    def apply_async(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        """Older name of :meth:`submit`, kept for backends written for joblib."""
        raise NotImplementedError(f"{type(self).__name__} must implement submit()")

    def retrieve_result_callback(self, out: Any) -> Any:
        """Read the result from what the callback received (may raise)."""
        return out.result() if hasattr(out, "result") else out.get()

    def retrieve_result(self, out: Any, timeout: float | None = None) -> Any:
        """Wait for and return the result of a future returned by :meth:`submit`."""
        if hasattr(out, "get"):
            return out.get(timeout=timeout) if self.supports_timeout else out.get()
        return out.result(timeout=timeout) if self.supports_timeout else out.result()

    def configure(
        self,
        n_jobs: int | None = 1,
        parallel: Any = None,
        prefer: str | None = None,
        require: str | None = None,
        **backend_kwargs: Any,
    ) -> int:
        """Prepare the workers for a call; return the effective number of jobs."""
        self.parallel = parallel
        return self.effective_n_jobs(n_jobs)

    def start_call(self) -> None:  # noqa: B027 - optional hook
        """Called before the first batch of a call is submitted."""

    def stop_call(self) -> None:  # noqa: B027 - optional hook
        """Called after the last result of a call was retrieved."""

    def terminate(self) -> None:  # noqa: B027 - optional hook
        """Release the workers (end of the call or of the ``with`` block)."""

    def compute_batch_size(self) -> int:
        """Number of tasks in the next batch when ``batch_size='auto'``."""
        return 1

    def batch_completed(self, batch_size: int, duration: float) -> None:  # noqa: B027 - optional hook
        """Called with the size and duration of each completed batch."""

    def get_exceptions(self) -> list[type[BaseException]]:
        """Exception types that mean "the backend itself failed"."""
        return []

    def abort_everything(self, ensure_ready: bool = True) -> None:
        """Stop the work of the current call (after an error, timeout or Ctrl-C).

        With ``ensure_ready`` the backend must be usable again afterwards.
        """
        if ensure_ready and self.parallel is not None:
            self.configure(
                n_jobs=self.parallel._n_jobs,
                parallel=self.parallel,
                **self.parallel._backend_kwargs,
            )

    def get_nested_backend(self) -> tuple[ParallelBackendBase, int | None]:
        """The backend (and n_jobs cap) for ``Parallel`` calls inside a task."""
        level = (self.nesting_level or 0) + 1
        return SequentialBackend(nesting_level=level), None

    @contextlib.contextmanager
    def retrieval_context(self) -> Iterator[None]:
        """Context around the retrieval of results (dask uses it to secede)."""
        yield

    def _prepare_worker_env(self, n_jobs: int) -> dict[str, str]:
        """Thread-limit variables for workers: cpu_count // n_jobs unless set."""
        explicit = self.inner_max_num_threads
        default = max(cpu_count() // max(n_jobs, 1), 1)
        env = {}
        for name in self.MAX_NUM_THREADS_VARS:
            if explicit is None:
                env[name] = os.environ.get(name, str(default))
            else:
                env[name] = str(explicit)
        if self.TBB_ENABLE_IPC_VAR not in os.environ:
            env[self.TBB_ENABLE_IPC_VAR] = "1"
        return env

    @staticmethod
    def in_main_thread() -> bool:
        return threading.current_thread() is threading.main_thread()


class AutoBatchingMixin:
    """Batch sizes that aim at a batch duration (joblib's heuristic).

    Starts at one task per batch; while batches take less than
    ``MIN_IDEAL_BATCH_DURATION`` the size grows (at most ``BATCH_GROWTH`` times
    per step), and it shrinks when batches take more than
    ``MAX_IDEAL_BATCH_DURATION``.
    """

    MIN_IDEAL_BATCH_DURATION = 0.2
    MAX_IDEAL_BATCH_DURATION = 2.0
    BATCH_GROWTH = 2
    _DEFAULT_EFFECTIVE_BATCH_SIZE = 1
    _DEFAULT_SMOOTHED_BATCH_DURATION = 0.0

    parallel: Any

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._effective_batch_size = self._DEFAULT_EFFECTIVE_BATCH_SIZE
        self._smoothed_batch_duration = self._DEFAULT_SMOOTHED_BATCH_DURATION

    def compute_batch_size(self) -> int:
        old = self._effective_batch_size
        duration = self._smoothed_batch_duration
        if 0 < duration < self.MIN_IDEAL_BATCH_DURATION:
            ideal = int(old * self.MIN_IDEAL_BATCH_DURATION / duration) * 2
            size = max(min(self.BATCH_GROWTH * old, ideal), 1)
        elif duration > self.MAX_IDEAL_BATCH_DURATION and old >= 2:
            ideal = int(old * self.MIN_IDEAL_BATCH_DURATION / duration)
            size = max(2 * ideal, 1)
        else:
            size = old
        if size != old:
            self._effective_batch_size = size
            self._smoothed_batch_duration = self._DEFAULT_SMOOTHED_BATCH_DURATION
            parallel = getattr(self, "parallel", None)
            if parallel is not None and parallel.verbose >= 10:
                parallel._print(
                    f"Batch computation too {'fast' if size > old else 'slow'} "
                    f"({duration:.4f}s.) Setting batch_size={size}."
                )
        return size

    def batch_completed(self, batch_size: int, duration: float) -> None:
        if batch_size == self._effective_batch_size:
            old = self._smoothed_batch_duration
            if old == self._DEFAULT_SMOOTHED_BATCH_DURATION:
                self._smoothed_batch_duration = duration
            else:
                self._smoothed_batch_duration = 0.8 * old + 0.2 * duration

    def reset_batch_stats(self) -> None:
        self._effective_batch_size = self._DEFAULT_EFFECTIVE_BATCH_SIZE
        self._smoothed_batch_duration = self._DEFAULT_SMOOTHED_BATCH_DURATION


class _SharesLargeArrays:
    """For process backends: large numpy arguments travel as memory maps.

    The memmapper lives from :meth:`configure` to :meth:`terminate`, that is for
    one call or one ``with Parallel(...)`` block, so an array is dumped once there.
    """

    _memmapper: ArrayMemmapper | None = None

    def _prepare_memmapping(self, parallel: Any, pool: Any = None) -> None:
        """Called by ``configure`` at each call; ``pool`` is the shared pool whose
        life written arrays may share between calls outside a ``with`` block."""
        settings = (
            getattr(parallel, "max_nbytes", "1M"),
            getattr(parallel, "mmap_mode", "r"),
            getattr(parallel, "temp_folder", None),
        )
        memmapper = self._memmapper
        if memmapper is not None and memmapper.settings() == ArrayMemmapper.normalize(
            *settings
        ):
            memmapper.start_call()
            return
        self._cleanup_memmapping()
        managed = getattr(parallel, "_managed", False)  # a with block: its own files
        self._memmapper = ArrayMemmapper(*settings, pool=None if managed else pool)

    def _task_reducers(
        self, extra: dict[type, Callable[[Any], Any]] | None
    ) -> dict[type, Any]:
        reducers = self._memmapper.reducers() if self._memmapper is not None else {}
        if extra:
            reducers.update(extra)  # reducers given by the user win
        return reducers

    def _cleanup_memmapping(self) -> None:
        memmapper, self._memmapper = self._memmapper, None
        if memmapper is not None:
            memmapper.cleanup()


def _effective_n_jobs(n_jobs: int | None) -> int:
    check_effective_n_jobs(n_jobs)
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(cpu_count() + 1 + n_jobs, 1)
    return n_jobs


class SequentialBackend(ParallelBackendBase):
    """Runs every task in the calling thread, one after the other."""

    uses_threads = True
    supports_sharedmem = True
    supports_return_generator = True

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        check_effective_n_jobs(n_jobs)
        return 1

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        raise RuntimeError(
            "SequentialBackend.submit is never called: Parallel runs inline"
        )


class _OnePoolBackend(ParallelBackendBase):
    """A backend owning one pool of ``n_jobs`` workers, rebuilt when that changes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        refuse_unknown_options(self, self.backend_kwargs, "backend parameters")
        self._pool: Any = None
        self._pool_size = 0

    def _new_pool(self, n_jobs: int) -> Any:
        raise NotImplementedError

    def _instance_for_parallel(self) -> _OnePoolBackend:
        """A copy without workers, for one ``Parallel`` object (see
        :func:`instance_for_parallel`)."""
        clone = copy.copy(self)
        clone._pool, clone._pool_size, clone.parallel = None, 0, None
        if isinstance(clone, _SharesLargeArrays):
            clone._memmapper = None
        return clone

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        return _effective_n_jobs(n_jobs)

    def configure(
        self,
        n_jobs: int | None = 1,
        parallel: Any = None,
        prefer: str | None = None,
        require: str | None = None,
        **backend_kwargs: Any,
    ) -> int:
        refuse_unknown_options(self, backend_kwargs, "keyword arguments")
        self.parallel = parallel
        n_jobs = self.effective_n_jobs(n_jobs)
        if n_jobs > 1 and (self._pool is None or self._pool_size != n_jobs):
            self.terminate()
            self._pool = self._new_pool(n_jobs)
            self._pool_size = n_jobs
        return n_jobs


class ThreadingBackend(_OnePoolBackend):
    """A pool of threads in this process.

    Very low overhead; useful when the work releases the GIL (NumPy, I/O, compiled
    extensions) or needs shared memory (``require='sharedmem'``). Batches hold one
    task each.
    """

    uses_threads = True
    supports_sharedmem = True
    supports_timeout = True
    supports_retrieve_callback = True
    supports_return_generator = True

    def _new_pool(self, n_jobs: int) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        return ThreadPoolExecutor(n_jobs, thread_name_prefix="joblet-thread")

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        future = self._pool.submit(func)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def abort_everything(self, ensure_ready: bool = True) -> None:
        # Threads cannot be killed: queued batches are cancelled, running ones end.
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        super().abort_everything(ensure_ready)

    def terminate(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class ProcessBackend(_SharesLargeArrays, AutoBatchingMixin, ParallelBackendBase):
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
    max_memory_growth : int, default 300 MB
        A worker whose resident memory grew by more than this many bytes since its
        first batch (after a garbage collection) is replaced.
    memory_check_interval : float, default 1.0
        Seconds between two memory checks in a worker.
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

    def __init__(
        self,
        nesting_level: int | None = None,
        inner_max_num_threads: int | None = None,
        idle_worker_timeout: float = 300.0,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        max_memory_growth: int = 300 * 1024**2,
        memory_check_interval: float = 1.0,
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
        return _effective_n_jobs(n_jobs)

    def _set_worker_options(
        self,
        forward_output: bool,
        prefix_output: bool,
        max_tasks_per_child: int | None,
    ) -> None:
        from ._executor._options import check_worker_options

        check_worker_options(forward_output, prefix_output, max_tasks_per_child)
        self.forward_output = forward_output
        self.prefix_output = prefix_output
        self.max_tasks_per_child = max_tasks_per_child

    def _instance_for_parallel(self) -> ProcessBackend:
        """A copy with no call state, for one ``Parallel`` object (see
        :func:`instance_for_parallel`)."""
        clone = copy.copy(self)
        clone._pool, clone._memmapper, clone.parallel = None, None, None
        clone._call_jobs = set()
        clone._output = None
        clone.reducers = dict(self.reducers)
        return clone

    def configure(
        self,
        n_jobs: int | None = 1,
        parallel: Any = None,
        prefer: str | None = None,
        require: str | None = None,
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
        self.parallel = parallel
        n_jobs = self.effective_n_jobs(n_jobs)
        if idle_worker_timeout is not None:
            self.idle_worker_timeout = idle_worker_timeout
        if n_jobs == 1:
            return 1
        from ._executor import get_pool

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
        self._prepare_memmapping(parallel, self._pool)
        return n_jobs

    @staticmethod
    def _release_pool(pool: Any) -> None:
        from ._executor import release_pool

        release_pool(pool)

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        from ._pickling import dumps_task

        payload = dumps_task(func, self._task_reducers(self.reducers))
        if self._output is None:
            self.start_call()
        job = self._pool.submit(
            payload,
            callback,
            getattr(func, "describe", None),
            output=self._output,
            n_tasks=len(func) if hasattr(func, "__len__") else 1,
            time_limit=getattr(func, "time_limit", None),
        )
        self._call_jobs.add(job)
        return job

    def retrieve_result_callback(self, out: Any) -> Any:
        self._call_jobs.discard(out)
        return out.result()

    def start_call(self) -> None:
        from ._executor import OutputSink

        self._call_jobs = set()
        # One sink per call: a warning repeated by many tasks shows once a call.
        self._output = OutputSink(self.forward_output, self.prefix_output)

    def stop_call(self) -> None:
        self._call_jobs = set()
        self._output = None

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


def is_multiprocessing_context(backend: Any) -> bool:
    """``backend=multiprocessing.get_context(...)``, accepted as joblib does."""
    # Without importing multiprocessing (~30 ms): a context comes from it.
    import sys

    context = sys.modules.get("multiprocessing.context")
    return context is not None and isinstance(backend, context.BaseContext)


_claim_lock = threading.Lock()
_claimed: set[int] = set()  # id() of the built-in backend instances running a call


def claim_backend(backend: ParallelBackendBase) -> ParallelBackendBase:
    """The instance a ``Parallel`` call (or ``with Parallel`` block) runs on.

    The instance itself, so that state kept on the object a user holds (from
    ``with parallel_backend(...) as (backend, n_jobs)``) is seen, as in joblib.
    The built-in pool backends keep per-call state on the instance (the pool, the
    jobs of the call, the memmapping folder): when the instance already runs
    another call (a ``parallel_config`` shared by threads, nested calls in the
    tasks of a thread backend), sharing it would let one call close the other's
    pool or cancel its batches, so that call gets a fresh copy instead. Other
    backends (plug-ins, user classes) are always used as given, as joblib does.
    Give the result back with :func:`release_backend`.
    """
    fresh = getattr(backend, "_instance_for_parallel", None)
    if not callable(fresh):
        return backend
    with _claim_lock:
        if id(backend) not in _claimed:
            _claimed.add(id(backend))
            return backend
    copy_for_call: ParallelBackendBase = fresh()
    return copy_for_call


def release_backend(backend: ParallelBackendBase) -> None:
    """End the use of an instance returned by :func:`claim_backend`."""
    with _claim_lock:
        _claimed.discard(id(backend))


def _run_cloudpickled(main: bytes, buffers: list[Any]) -> Any:
    import pickle

    from ._memmapping import explain_worker_error, reset_worker_state

    reset_worker_state()
    try:
        return pickle.loads(main, buffers=buffers)()
    except KeyboardInterrupt as interrupt:
        # Pool workers report only Exception: a bare KeyboardInterrupt would kill
        # this worker and leave the task unanswered (the caller would wait forever).
        from ._errors import WorkerInterrupt

        raise WorkerInterrupt(*interrupt.args) from interrupt
    except Exception as error:
        explained = explain_worker_error(error)
        if explained is error:
            raise
        raise explained from None


def _in_daemonic_process() -> bool:
    # Only a process started by multiprocessing can be daemonic: if the module
    # was never imported, this is not one (and importing it costs ~30 ms).
    import sys

    process = sys.modules.get("multiprocessing.process")
    return process is not None and bool(process.current_process().daemon)


def _init_mp_worker(env: dict[str, str], user_initializer: bytes | None) -> None:
    import signal

    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if user_initializer is not None:
        import pickle

        initializer, initargs = pickle.loads(user_initializer)
        initializer(*initargs)


class MultiprocessingBackend(_SharesLargeArrays, AutoBatchingMixin, _OnePoolBackend):
    """The legacy backend: a ``multiprocessing.Pool`` per call (or ``with`` block).

    Started with ``forkserver`` where available, else ``spawn`` (set
    ``JOBLET_START_METHOD`` to choose). Tasks are pickled with cloudpickle so
    functions of ``__main__`` work. Less robust than the default backend: a worker
    that dies loses its task.
    """

    supports_retrieve_callback = True
    supports_timeout = True
    supports_return_generator = True

    def __init__(
        self,
        context: Any = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.context = context
        self.initializer = initializer
        self.initargs = tuple(initargs)
        self._pool_settings: Any = None

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        n_jobs = super().effective_n_jobs(n_jobs)
        if n_jobs != 1 and _in_daemonic_process():
            import warnings

            # As joblib: daemonic processes (Pool workers) cannot have children.
            warnings.warn(
                "Multiprocessing-backed parallel loops cannot be nested, setting "
                "n_jobs=1",
                stacklevel=3,
            )
            return 1
        return n_jobs

    def _new_pool(self, n_jobs: int) -> Any:
        context = self.context
        if context is None:
            import multiprocessing

            method = os.environ.get("JOBLET_START_METHOD")
            if method is None:
                methods = multiprocessing.get_all_start_methods()
                method = "forkserver" if "forkserver" in methods else "spawn"
            context = multiprocessing.get_context(method)
        user_initializer = None
        if self.initializer is not None:
            import cloudpickle  # functions of __main__ reach spawned workers

            user_initializer = cloudpickle.dumps((self.initializer, self.initargs))
        self._pool_settings = (self.context, self.initializer, self.initargs)
        return context.Pool(
            n_jobs,
            initializer=_init_mp_worker,
            initargs=(self._prepare_worker_env(n_jobs), user_initializer),
        )

    def configure(
        self,
        n_jobs: int | None = 1,
        parallel: Any = None,
        prefer: str | None = None,
        require: str | None = None,
        context: Any = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] | None = None,
        **backend_kwargs: Any,
    ) -> int:
        if context is not None:
            self.context = context
        if initializer is not None:  # Parallel(initializer=...), as in joblib
            self.initializer = initializer
        if initargs is not None:
            self.initargs = tuple(initargs)
        settings = (self.context, self.initializer, self.initargs)
        if self._pool is not None and settings != self._pool_settings:
            self.terminate()  # workers started with other settings
        n_jobs = super().configure(n_jobs, parallel, prefer, require, **backend_kwargs)
        if n_jobs > 1:
            self._prepare_memmapping(parallel)
        return n_jobs

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        from concurrent.futures import Future

        from ._pickling import dumps_task

        future: Future[Any] = Future()
        if callback is not None:
            future.add_done_callback(callback)
        main, buffers = dumps_task(func, self._task_reducers(None))
        self._pool.apply_async(
            _run_cloudpickled,
            (main, [bytes(buffer) for buffer in buffers]),
            callback=future.set_result,
            error_callback=future.set_exception,
        )
        return future

    def abort_everything(self, ensure_ready: bool = True) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None
        super().abort_everything(ensure_ready)

    def terminate(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        self._cleanup_memmapping()
        # As joblib: the next call's batches start small again (tasks may differ).
        self.reset_batch_stats()
