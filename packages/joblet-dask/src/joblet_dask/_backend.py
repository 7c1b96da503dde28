"""The ``dask`` backend: Parallel batches run as tasks of a dask.distributed client."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from joblet_parallel import (
    AutoBatchingMixin,
    Batch,
    ParallelBackendBase,
    RemoteTraceback,
    ResultPicklingError,
    check_effective_n_jobs,
)

from ._scatter import DEFAULT_SCATTER_THRESHOLD, ScatterCache
from ._watch import ClusterLostError, ClusterWatch

_NO_CLIENT_MESSAGE = (
    "the 'dask' backend runs on a dask.distributed client, and none was found. "
    "Create one before the Parallel call, for example:\n"
    "    from dask.distributed import Client, LocalCluster\n"
    "    client = Client()                         # a local cluster\n"
    "    client = Client(LocalCluster(n_workers=4))\n"
    "    client = Client('tcp://scheduler:8786')   # an existing cluster\n"
    "or pass client=... to parallel_config('dask', client=client)."
)

# Name of the attribute carrying the worker's traceback text on an exception
# (exceptions pickle their __dict__, not their __cause__).
_TRACEBACK_ATTRIBUTE = "_joblet_remote_traceback"


def _find_client(client: Any, scheduler_host: str | None) -> Any:
    from distributed import Client, get_client

    if client is not None:
        return client
    if scheduler_host is not None:
        # distributed's Client is not annotated (flagged by --strict only).
        return Client(scheduler_host)  # type: ignore[no-untyped-call, unused-ignore]
    try:
        return get_client()
    except ValueError:
        raise ValueError(_NO_CLIENT_MESSAGE) from None


def run_batch(
    batch_class: type,
    items: list[Any],
    nested_backend: Any,
    max_n_jobs: int | None,
    policy: Any = None,
) -> list[Any]:
    """Run one batch on a dask worker, its scattered arguments already resolved.

    The batch is rebuilt here from its parts (``batch_class`` is Parallel's own
    batch type) because dask finds futures only in plain lists, tuples and dicts.
    """
    try:
        results: list[Any]
        if policy is None:
            results = batch_class(items, nested_backend, max_n_jobs)()
        else:
            # return_exceptions / retry_on: run each task under the call's policy
            results = batch_class(items, nested_backend, max_n_jobs, policy)()
        return results
    except BaseException as error:
        setattr(
            error,
            _TRACEBACK_ATTRIBUTE,
            "".join(
                traceback.format_exception(type(error), error, error.__traceback__)
            ),
        )
        raise


def _probe() -> None:
    """A task that does nothing: its result says a worker is up."""


def _inside_dask_worker() -> bool:
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


class DaskDistributedBackend(AutoBatchingMixin, ParallelBackendBase):
    """Run ``Parallel`` on a ``dask.distributed`` cluster.

    Selected with ``parallel_config('dask')`` (or ``parallel_backend('dask')``)
    once joblet-dask is installed. Batches become dask tasks of the current client;
    ``n_jobs=-1`` means every worker thread of the cluster.

    Parameters
    ----------
    scheduler_host : str, optional
        Address of a scheduler to connect to, when there is no current client.
    scatter : list, optional
        Objects to send to every worker once, up front; tasks receiving them (by
        identity) get the worker's copy instead of shipping them again.
    client : distributed.Client, optional
        The client to use; defaults to the current one (``get_client()``).
    wait_for_workers_timeout : float, default 10
        Seconds to wait for a first worker when the cluster has none yet; also
        how long a call waits while its cluster has no worker left (its workers
        were stopped or killed by tasks) before it fails with
        :class:`ClusterLostError`.
    scatter_threshold : int or None, default 1_000_000
        Arguments at least this many bytes are scattered automatically, once per
        distinct content (fingerprinted with joblet-hash). ``None`` disables.
    nesting_level, inner_max_num_threads
        As for :class:`ParallelBackendBase`.
    **submit_kwargs
        Passed to ``client.submit`` for every batch, as joblib's dask backend
        does: ``workers=[...]`` (addresses or names the batches may run on),
        ``resources={'GPU': 1}``, ``priority``, ``allow_other_workers``...

    Examples
    --------
    >>> from dask.distributed import Client
    >>> from joblet_parallel import Parallel, delayed, parallel_config
    >>> client = Client(processes=False)  # doctest: +SKIP
    >>> with parallel_config("dask"):  # doctest: +SKIP
    ...     Parallel()(delayed(abs)(-i) for i in range(3))
    [0, 1, 2]
    """

    MIN_IDEAL_BATCH_DURATION = 0.2
    MAX_IDEAL_BATCH_DURATION = 1.0
    default_n_jobs = -1
    supports_timeout = True
    supports_retrieve_callback = True
    supports_return_generator = True
    # The tasks run on the cluster even with one worker thread: in the client
    # they would lack the workers' resources, and one thread is what a
    # two-worker cluster has left while a worker restarts.
    inline_single_job = False

    def __init__(
        self,
        scheduler_host: str | None = None,
        scatter: list[Any] | tuple[Any, ...] | None = None,
        client: Any = None,
        wait_for_workers_timeout: float = 10.0,
        scatter_threshold: int | None = DEFAULT_SCATTER_THRESHOLD,
        nesting_level: int | None = None,
        inner_max_num_threads: int | None = None,
        **submit_kwargs: Any,
    ) -> None:
        super().__init__(
            nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads
        )
        self.submit_kwargs = submit_kwargs
        if scatter is not None and not isinstance(scatter, (list, tuple)):
            raise TypeError(
                f"scatter must be a list or a tuple of objects, got {type(scatter).__name__}"
            )
        self.wait_for_workers_timeout = wait_for_workers_timeout
        self._client = client
        self._scheduler_host = scheduler_host
        self._scatter_threshold = scatter_threshold
        self._to_pin = list(scatter or ())
        self._scattered: ScatterCache | None = None
        self._call_futures: set[Any] = set()
        self._described: dict[Any, str] = {}  # future key -> its first task
        # callback threads, the watch and the caller change the two above
        self._futures_lock = threading.Lock()
        self._watch: ClusterWatch | None = None
        self._lost: str | None = None  # why the call's cluster was given up

    @property
    def client(self) -> Any:
        """The dask client, found when first needed (so that a backend shipped
        to a worker binds to that worker's client)."""
        if self._client is None:
            self._client = _find_client(None, self._scheduler_host)
        return self._client

    @property
    def scattered(self) -> ScatterCache:
        if self._scattered is None:
            self._scattered = ScatterCache(self.client, self._scatter_threshold)
            self._scattered.pin(self._to_pin)
        return self._scattered

    def __reduce__(self) -> Any:
        # Shipped to workers as the nested backend: rebuilt there without a
        # client, and bound to the worker's own client when it is first used.
        return (DaskDistributedBackend, ())

    # --- sizing -------------------------------------------------------------------

    def _cluster_threads(self) -> int:
        threads: int = sum(self.client.nthreads().values())
        if threads:
            return threads
        # No worker yet: submit a probe task and wait for it. An adaptive cluster
        # scales up for pending tasks (waiting for workers alone would not ask it
        # to), a plain one runs the probe as soon as a worker connects.
        try:
            self.client.submit(_probe, pure=False, **self.submit_kwargs).result(
                timeout=self.wait_for_workers_timeout
            )
        # distributed raises asyncio's TimeoutError, a distinct class before 3.11.
        except (TimeoutError, asyncio.TimeoutError):
            raise TimeoutError(
                f"the dask cluster has no worker after {self.wait_for_workers_timeout} s. "
                "Check that workers are started and can reach the scheduler, or wait "
                "longer: parallel_config('dask', wait_for_workers_timeout="
                f"{self.wait_for_workers_timeout * 2:g})"
            ) from None
        return sum(self.client.nthreads().values())

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        check_effective_n_jobs(n_jobs)  # joblet's one n_jobs == 0 error
        if n_jobs is None or n_jobs < 0:
            threads = self._cluster_threads()
            return threads if n_jobs is None else max(threads + 1 + n_jobs, 1)
        return n_jobs

    def _configure_workers(self, n_jobs: int | None, **options: Any) -> int:
        if options:
            raise ValueError(
                f"the 'dask' backend cannot offer {', '.join(sorted(options))}: "
                "options of joblet's process workers. Prepare dask workers with "
                "client.register_plugin(...) or client.run(...), or use "
                "backend='loky'"
            )
        n_jobs = self.effective_n_jobs(n_jobs)
        self.scattered  # noqa: B018 - send the scatter=[...] objects now
        return n_jobs

    # --- running batches ----------------------------------------------------------

    def start_call(self) -> None:
        self._stop_watch()
        self._lost = None
        self._watch = ClusterWatch(
            self.client, self.wait_for_workers_timeout, self._cluster_lost
        )

    def _cluster_lost(self, message: str) -> None:
        """No worker left (from the watch thread): fail the waiting batches."""
        self._lost = message
        with self._futures_lock:
            futures = list(self._call_futures)
        if futures:
            self.client.cancel(futures, reason=message)

    def _stop_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        if self._lost is not None:
            raise ClusterLostError(self._lost)
        if not isinstance(func, Batch):
            raise TypeError(
                "the 'dask' backend runs the batches of joblet's Parallel (a "
                f"joblet_parallel.Batch), got {type(func).__name__}"
            )
        substitute = self.scattered.substitute
        items = [
            (
                task,
                [substitute(arg) for arg in args],
                {k: substitute(v) for k, v in kwargs.items()},
            )
            for task, args, kwargs in func.items
        ]
        future = self.client.submit(
            run_batch,
            type(func),
            items,
            func.nested_backend,
            func.max_n_jobs,
            func.policy,
            pure=False,
            **self.submit_kwargs,
        )
        describe = getattr(func, "describe", None)
        with self._futures_lock:
            self._call_futures.add(future)
            self._described[future.key] = (
                describe() if callable(describe) else "a batch"
            )
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def retrieve_result_callback(self, out: Any) -> Any:
        return self._result(out)

    def retrieve_result(self, out: Any, timeout: float | None = None) -> Any:
        return self._result(out, timeout)

    def _result(self, future: Any, timeout: float | None = None) -> Any:
        """The batch's result. The future stays among the call's futures until
        it is read: a result lost with its worker makes ``result()`` wait for
        dask to compute it again, and if the cluster has no worker left the
        watch cancels it there (else that wait would never end)."""
        with self._futures_lock:
            describe = self._described.get(future.key, "a batch")
        try:
            result = _result_with_remote_traceback(future, timeout)
            self._forget(future)
            return result
        except BaseException as error:
            self._forget(future)
            if self._lost is not None:
                raise ClusterLostError(self._lost) from error
            if future.status == "finished" and isinstance(error, Exception):
                # The task ended well and its result could not reach us: as the
                # process backend, a ResultPicklingError (which return_exceptions
                # puts in the task's place once the batch is split).
                raise ResultPicklingError(
                    f"the result of {describe} could not be sent back from the "
                    f"dask worker: {type(error).__name__}: {error}"
                ) from error
            raise

    def _forget(self, future: Any) -> None:
        with self._futures_lock:
            self._call_futures.discard(future)
            self._described.pop(future.key, None)

    def abort_everything(self, ensure_ready: bool = True) -> None:
        self._stop_watch()
        with self._futures_lock:
            futures, self._call_futures = list(self._call_futures), set()
            self._described = {}
        if futures:
            self.client.cancel(futures)

    def stop_call(self) -> None:
        self._stop_watch()
        with self._futures_lock:
            self._call_futures = set()
            self._described = {}

    def terminate(self) -> None:
        self._stop_watch()
        if self._scattered is not None:
            self._scattered.clear()
        # As joblib: the next call's batches start small again (tasks may differ).
        self.reset_batch_stats()

    # --- nesting --------------------------------------------------------------------

    def get_nested_backend(self) -> tuple[ParallelBackendBase, int | None]:
        # Nested calls go to the same cluster; the worker secedes while it waits.
        return DaskDistributedBackend(client=self.client), -1

    @contextlib.contextmanager
    def retrieval_context(self) -> Iterator[None]:
        if not _inside_dask_worker():
            yield
            return
        # Waiting inside a task: give the thread back to the worker so nested
        # tasks can run on it, then take a slot again.
        from distributed import rejoin, secede

        # distributed's secede and rejoin are not annotated (flagged by --strict
        # only).
        secede()  # type: ignore[no-untyped-call, unused-ignore]
        try:
            yield
        finally:
            rejoin()  # type: ignore[no-untyped-call, unused-ignore]


def _result_with_remote_traceback(future: Any, timeout: float | None = None) -> Any:
    try:
        return future.result(timeout=timeout)
    except BaseException as error:
        text = getattr(error, _TRACEBACK_ATTRIBUTE, None)
        if text is not None:
            delattr(error, _TRACEBACK_ATTRIBUTE)
            raise error from RemoteTraceback(text)
        raise
