"""joblet's process executor as a joblib parallel backend.

Libraries that call joblib themselves (scikit-learn's ``n_jobs``) then run on
joblet's workers without any import trick::

    import joblib
    import joblet_parallel

    joblet_parallel.register_joblib_backend()
    with joblib.parallel_config(backend="joblet"):
        GridSearchCV(model, grid, n_jobs=2).fit(X, y)

joblib stays optional: it is imported only when the adapter is registered.
"""

from __future__ import annotations

from typing import Any

from ._call_settings import CallSettings

_MISSING_JOBLIB = (
    "register_joblib_backend() plugs joblet into joblib, and joblib is not "
    "installed; install it (pip install joblib) or use joblet's own Parallel, "
    "which does not need it"
)


def register_joblib_backend(name: str = "joblet", make_default: bool = False) -> None:
    """Register joblet's process executor as the joblib backend ``name``.

    Afterwards ``joblib.parallel_config(backend=name)`` (or
    ``joblib.parallel_backend``) makes every ``joblib.Parallel`` inside the block,
    such as scikit-learn's ``n_jobs`` loops, run its batches on joblet's
    reusable worker processes: tasks pickled with cloudpickle, errors re-raised
    with their type and the worker's traceback, large numpy arguments
    memory-mapped, dead workers replaced.

    Parameters
    ----------
    name : str, default 'joblet'
        The joblib backend name.
    make_default : bool, default False
        Also make it joblib's default backend (in place of ``'loky'``).

    Raises
    ------
    ImportError
        If joblib is not installed.

    Examples
    --------
    >>> import joblib  # doctest: +SKIP
    >>> from joblet_parallel import register_joblib_backend
    >>> register_joblib_backend()  # doctest: +SKIP
    >>> with joblib.parallel_config(backend="joblet", n_jobs=2):  # doctest: +SKIP
    ...     joblib.Parallel()(joblib.delayed(abs)(-i) for i in range(3))
    [0, 1, 2]
    """
    try:
        import joblib
    except ImportError:
        raise ImportError(_MISSING_JOBLIB) from None
    joblib.register_parallel_backend(name, _adapter_class(), make_default=make_default)


_ADAPTER: list[type] = []

#: joblib's defaults, for a joblib Parallel that does not pass them.
_JOBLIB_MEMMAPPING = {"max_nbytes": "1M", "mmap_mode": "r", "temp_folder": None}


def _call_settings(parallel: Any, settings: dict[str, Any]) -> CallSettings:
    """What joblet's executor reads of a call (the memory mapping of large
    arguments), taken from a joblib ``Parallel`` and the settings it passes."""

    def given(name: str) -> Any:
        return settings.get(name, getattr(parallel, name, _JOBLIB_MEMMAPPING[name]))

    return CallSettings(
        max_nbytes=given("max_nbytes"),
        mmap_mode=given("mmap_mode"),
        temp_folder=given("temp_folder"),
        # joblib's with Parallel(...) block: arrays are written for it alone.
        # Read from joblib's private attribute: joblib offers no public one.
        managed=bool(getattr(parallel, "_managed_backend", False)),
    )


def _adapter_class() -> type:
    """The joblib backend class, built once joblib is importable."""
    if _ADAPTER:
        return _ADAPTER[0]
    from joblib.parallel import AutoBatchingMixin, ParallelBackendBase

    from ._backends import ProcessBackend

    # joblib ships no type information: its classes are Any to mypy
    # (flagged by --strict only, hence unused-ignore).
    class JobletBackend(AutoBatchingMixin, ParallelBackendBase):  # type: ignore[misc, unused-ignore]
        """joblib backend running batches on joblet's process executor."""

        supports_retrieve_callback = True
        supports_return_generator = True
        supports_inner_max_num_threads = True
        supports_timeout = False
        # joblet's workers report their batch durations: batch as joblet does.
        MIN_IDEAL_BATCH_DURATION = ProcessBackend.MIN_IDEAL_BATCH_DURATION
        MAX_IDEAL_BATCH_DURATION = ProcessBackend.MAX_IDEAL_BATCH_DURATION

        def __init__(self, **backend_kwargs: Any) -> None:
            nesting_level = backend_kwargs.pop("nesting_level", None)
            inner_max_num_threads = backend_kwargs.pop("inner_max_num_threads", None)
            super().__init__(
                nesting_level=nesting_level,
                inner_max_num_threads=inner_max_num_threads,
            )
            # Options of joblet's process backend (idle_worker_timeout, ...).
            self._options = backend_kwargs
            self._executor: ProcessBackend | None = None
            self._settings: CallSettings | None = None

        def _joblet(self) -> ProcessBackend:
            if self._executor is None:
                self._executor = ProcessBackend(
                    inner_max_num_threads=self.inner_max_num_threads, **self._options
                )
            return self._executor

        def effective_n_jobs(self, n_jobs: int | None) -> int:
            return self._joblet().effective_n_jobs(n_jobs)

        def configure(
            self, n_jobs: int | None = 1, parallel: Any = None, **joblib_settings: Any
        ) -> int:
            # joblib passes its own settings: the memory mapping of large
            # arrays (max_nbytes, mmap_mode, temp_folder) is honoured; the
            # others (prefer, require, context, verbose) mean nothing to
            # joblet's executor.
            self.parallel = parallel
            executor = self._joblet()
            self._settings = _call_settings(parallel, joblib_settings)
            n_jobs = executor.configure(n_jobs=n_jobs, parallel=self._settings)
            if n_jobs == 1:
                # joblib runs n_jobs=1 in its own sequential loop; a joblet
                # executor with one worker is then never started.
                return 1
            return n_jobs

        def start_call(self) -> None:
            self._joblet().start_call()

        def stop_call(self) -> None:
            self._joblet().stop_call()

        def submit(self, func: Any, callback: Any = None) -> Any:
            return self._joblet().submit(func, callback)

        apply_async = submit

        def retrieve_result_callback(self, out: Any) -> Any:
            return self._joblet().retrieve_result_callback(out)

        def abort_everything(self, ensure_ready: bool = True) -> None:
            executor = self._joblet()
            executor.abort_everything(ensure_ready=False)
            if ensure_ready and self.parallel is not None:
                executor.configure(n_jobs=self.parallel.n_jobs, parallel=self._settings)

        def terminate(self) -> None:
            if self._executor is not None:
                self._executor.terminate()
            super().terminate()

    JobletBackend.__module__ = __name__
    _ADAPTER.append(JobletBackend)
    return JobletBackend
