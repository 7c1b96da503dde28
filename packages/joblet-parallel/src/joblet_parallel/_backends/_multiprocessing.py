"""The legacy multiprocessing backend and its worker-side helpers."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

from ._auto_batching import AutoBatchingMixin
from ._base import limit_below_threads
from ._large_arrays import _SharesLargeArrays
from ._one_pool import _OnePoolBackend


def _run_cloudpickled(main: bytes, buffers: list[Any]) -> Any:
    import pickle

    from .._memmapping import explain_worker_error, reset_worker_state

    reset_worker_state()
    try:
        return pickle.loads(main, buffers=buffers)()
    except KeyboardInterrupt as interrupt:
        # Pool workers report only Exception: a bare KeyboardInterrupt would kill
        # this worker and leave the task unanswered (the caller would wait forever).
        from .._errors import WorkerInterrupt

        raise WorkerInterrupt(*interrupt.args) from interrupt
    except Exception as error:
        explained = explain_worker_error(error)
        if explained is error:
            raise
        raise explained from None


def _checked_tasks_per_child(value: int | None) -> int | None:
    from .._executor._options import check_worker_options

    check_worker_options(True, False, value)
    return value


def _in_daemonic_process() -> bool:
    # Only a process started by multiprocessing can be daemonic: if the module
    # was never imported, this is not one (and importing it costs ~30 ms).
    import sys

    if "multiprocessing.process" not in sys.modules:
        return False
    # Imported, maybe still being imported by another thread: the import
    # statement waits for it to finish (reading sys.modules would not).
    import multiprocessing.process

    return bool(multiprocessing.process.current_process().daemon)


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
    that dies loses its task (so ``retries=`` is refused).

    Parameters
    ----------
    context : multiprocessing context, optional
        The context whose ``Pool`` runs the tasks.
    initializer, initargs
        ``initializer(*initargs)`` runs once in each new worker.
    max_tasks_per_child : int, optional
        Replace a worker after it ran this many tasks (batches then hold one
        task each).
    """

    supports_retrieve_callback = True
    supports_timeout = True
    supports_return_generator = True
    # a worker that dies loses its task: retries= cannot apply (refused)
    loses_dead_workers_tasks = True
    # the pool counts batches per worker: with max_tasks_per_child, one task each
    counts_batches_per_child = True
    # the workers limit their BLAS/OpenMP pools (variables set at start)
    supports_inner_max_num_threads = True
    per_call_state: ClassVar[dict[str, Any]] = {
        **_OnePoolBackend.per_call_state,
        "_memmapper": None,
    }

    def __init__(
        self,
        context: Any = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        max_tasks_per_child: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.context = context
        self.initializer = initializer
        self.initargs = tuple(initargs)
        self.max_tasks_per_child = _checked_tasks_per_child(max_tasks_per_child)
        self._pool_settings: Any = None

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        n_jobs = super().effective_n_jobs(n_jobs)
        if n_jobs != 1 and _in_daemonic_process():
            from .._warnings import warn

            # As joblib: daemonic processes (Pool workers) cannot have children.
            warn(
                "Multiprocessing-backed parallel loops cannot be nested, setting "
                "n_jobs=1"
            )
            return 1
        return limit_below_threads(self, n_jobs)

    def _new_pool(self, n_jobs: int) -> Any:
        context = self.context
        if context is None:
            import multiprocessing

            method = os.environ.get("JOBLET_START_METHOD")
            if method is None:
                methods = multiprocessing.get_all_start_methods()
                method = "forkserver" if "forkserver" in methods else "spawn"
            context = multiprocessing.get_context(method)
        from ._main_guard import check_main_guard

        check_main_guard(context.get_start_method())
        user_initializer = None
        if self.initializer is not None:
            import cloudpickle  # functions of __main__ reach spawned workers

            user_initializer = cloudpickle.dumps((self.initializer, self.initargs))
        self._pool_settings = self._settings()
        return context.Pool(
            n_jobs,
            initializer=_init_mp_worker,
            initargs=(self._prepare_worker_env(n_jobs), user_initializer),
            maxtasksperchild=self.max_tasks_per_child,
        )

    def _settings(self) -> tuple[Any, ...]:
        return (
            self.context,
            self.initializer,
            self.initargs,
            self.max_tasks_per_child,
        )

    def _configure_workers(
        self,
        n_jobs: int | None,
        *,
        context: Any = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] | None = None,
        max_tasks_per_child: int | None = None,
        **backend_kwargs: Any,
    ) -> int:
        if context is not None:
            self.context = context
        if initializer is not None:  # Parallel(initializer=...), as in joblib
            self.initializer = initializer
        if initargs is not None:
            self.initargs = tuple(initargs)
        if max_tasks_per_child is not None:
            self.max_tasks_per_child = _checked_tasks_per_child(max_tasks_per_child)
        settings = self._settings()
        if self._pool is not None and settings != self._pool_settings:
            self.terminate()  # workers started with other settings
        n_jobs = super()._configure_workers(n_jobs, **backend_kwargs)
        if n_jobs > 1:
            self._prepare_memmapping(self.settings)
        return n_jobs

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        from concurrent.futures import Future

        from .._pickling import dumps_task

        future: Future[Any] = Future()
        if callback is not None:
            future.add_done_callback(callback)
        main, buffers = dumps_task(func, self._task_reducers(None))
        describe = getattr(func, "describe", None)

        def failed(error: BaseException) -> None:
            if type(error).__name__ == "MaybeEncodingError":
                # the pool could not pickle the batch's result in the worker
                from .._errors import ResultPicklingError

                what = describe() if callable(describe) else "a batch"
                error = ResultPicklingError(
                    f"the result of {what} could not be pickled in the worker to "
                    f"be sent back: {error}"
                )
            future.set_exception(error)

        self._pool.apply_async(
            _run_cloudpickled,
            (main, [bytes(buffer) for buffer in buffers]),
            callback=future.set_result,
            error_callback=failed,
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
