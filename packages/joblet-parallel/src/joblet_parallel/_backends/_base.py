"""The backend protocol: joblib's, so that joblib backends port by changing
imports."""

from __future__ import annotations

import contextlib
import os
import threading
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

from .._call_settings import CallSettings
from .._cpu import cpu_count
from .._validation import check_effective_n_jobs, refuse_unknown_options


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
    settings : CallSettings or None
        What the call being configured asks of the backend (set by
        :meth:`configure`; None before).
    inline_single_job : bool
        With one worker (``n_jobs`` resolves to 1), ``Parallel`` runs the tasks
        in the calling thread, as joblib does. A backend whose tasks must run on
        its own workers (a cluster) sets it to False.
    """

    default_n_jobs = 1
    supports_timeout = False
    supports_retrieve_callback = False
    supports_return_generator = False
    supports_inner_max_num_threads = False
    supports_sharedmem = False
    uses_threads = False
    inline_single_job = True
    nesting_level: int | None = None
    settings: CallSettings | None = None

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
        """Prepare the workers for a call; return the effective number of jobs.

        joblib's signature, kept for the callers written for it: ``prefer`` and
        ``require`` are joblib's hints (already applied when the backend was
        chosen), ``backend_kwargs`` the backend options ``Parallel`` received.
        Built-in backends override :meth:`_configure_workers`, not this method;
        backends written for joblib may still override it.
        """
        self.parallel = parallel
        self.settings = CallSettings.of(parallel, n_jobs, backend_kwargs)
        return self._configure_workers(n_jobs, **backend_kwargs)

    def _configure_workers(self, n_jobs: int | None, **options: Any) -> int:
        """Start (or resize) the workers for ``n_jobs``: the hook of
        :meth:`configure`, called after :attr:`parallel` and :attr:`settings`
        are set.

        ``options`` are the backend options ``Parallel`` received; a backend
        takes the ones it knows as keyword-only parameters. Returns the
        effective number of jobs; by default, :meth:`effective_n_jobs`.
        """
        return self.effective_n_jobs(n_jobs)

    def configure_options(self) -> frozenset[str]:
        """The names of the backend options :meth:`configure` takes by name.

        Those of :meth:`_configure_workers`, or of :meth:`configure` itself
        when a subclass overrides it (a backend written for joblib).
        """
        import inspect

        overridden = type(self).configure is not ParallelBackendBase.configure
        method = self.configure if overridden else self._configure_workers
        return frozenset(
            name
            for name, parameter in inspect.signature(method).parameters.items()
            if parameter.kind
            in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        )

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
            settings = self.settings or CallSettings.of(
                self.parallel, getattr(self.parallel, "n_jobs", 1), {}
            )
            self.configure(
                n_jobs=settings.n_jobs,
                parallel=self.parallel,
                **settings.backend_kwargs,
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


def _effective_n_jobs(n_jobs: int | None) -> int:
    check_effective_n_jobs(n_jobs)
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(cpu_count() + 1 + n_jobs, 1)
    return n_jobs


def limit_below_threads(backend: ParallelBackendBase, n_jobs: int) -> int:
    """``n_jobs`` for a process backend, or 1 inside a task of a thread worker.

    As joblib 1.6: process-backed calls are not nested below threads (each
    thread of the outer call would start its own processes); the call runs
    with one job and says so. Top-level calls from any thread are not limited.
    """
    nested = (backend.nesting_level or 0) > 0
    if n_jobs != 1 and nested and not backend.in_main_thread():
        from .._warnings import warn

        warn(
            "Process-backed parallel loops cannot be nested below threads, "
            "setting n_jobs=1"
        )
        return 1
    return n_jobs


# The backend every backend nests into by default: defined here, beside the
# base class, because the base class returns it.
class SequentialBackend(ParallelBackendBase):
    """Runs every task in the calling thread, one after the other."""

    uses_threads = True
    supports_sharedmem = True
    supports_return_generator = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        refuse_unknown_options(self, self.backend_kwargs, "backend parameters")

    def _configure_workers(self, n_jobs: int | None, **options: Any) -> int:
        refuse_unknown_options(self, options, "keyword arguments")
        return self.effective_n_jobs(n_jobs)

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        check_effective_n_jobs(n_jobs)
        return 1

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        raise RuntimeError(
            "SequentialBackend.submit is never called: Parallel runs inline"
        )
