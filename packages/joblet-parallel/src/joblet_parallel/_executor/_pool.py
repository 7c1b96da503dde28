"""The pool of worker processes: spawning, dispatch, results, death and healing.

Each worker has two pipes and two threads here: a writer thread that sends
batches (so that a large task never blocks the thread reading a large result)
and a reader thread that receives results, hands the worker its next batch and
detects the worker's death (end of file on its result pipe). A worker holds at
most ``MAX_OUTSTANDING`` (one) batch; the rest wait in the pool's queue and go to
whichever worker frees up first, so no batch waits behind a slow one and a timeout
knows exactly which worker runs the late batch. Batches of fast tasks are large
(auto-batching), so the round trip between two batches costs little.
"""

from __future__ import annotations

import enum
import itertools
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

from .._errors import TaskTimeoutError, TerminatedWorkerError
from .._sent_functions import HeldFunctions, buffers_for
from ._job import CancelledBatchError, Job, report_callback_error
from ._output import OutputSink
from ._remote_errors import describe_exit, rebuild_error, unreadable_result
from ._watchdog import Watchdog
from ._wire import read_frame, write_frame
from ._worker import ERROR, NOTICE, OK, OUTPUT, READY, RETIRE

_BOOT = (
    "import os,sys;"
    "sys.path[:]=os.environ.pop('JOBLET_WORKER_SYS_PATH').split(os.pathsep);"
    "from joblet_parallel._executor._worker import main;main()"
)


def _site_flags() -> list[str]:
    """The parent's ``-S``/``-s``: a worker runs ``site`` as the parent did.

    ``site`` runs the ``.pth`` files (editable installs' import hooks,
    coverage's subprocess start) and ``sitecustomize``; and what a task starts
    with the interpreter's flags (as multiprocessing and loky do for their
    helper processes) must find ``site-packages`` as the parent does.
    """
    return ["-S"] * sys.flags.no_site + ["-s"] * sys.flags.no_user_site


class WorkerState(enum.Enum):
    """Where a worker is in its life; each move has one method of
    :class:`_Worker` (as loky's executor flags), called with the pool's lock
    held: ``retire()`` ALIVE to RETIRING; ``close()`` ALIVE or RETIRING to
    CLOSED; ``exited()`` any state to DEAD (an exit from CLOSED was expected,
    any other is a worker lost).
    """

    ALIVE = "alive"  # takes batches
    RETIRING = "retiring"  # finishes what it holds, takes nothing new
    CLOSED = "closed"  # told to exit (or killed): its exit is expected
    DEAD = "dead"  # its process is gone


ALIVE, RETIRING, CLOSED, DEAD = (
    WorkerState.ALIVE,
    WorkerState.RETIRING,
    WorkerState.CLOSED,
    WorkerState.DEAD,
)


class _Worker:
    __slots__ = (
        "fd_result",
        "fd_task",
        "held_functions",
        "killed",
        "number",
        "outstanding",
        "proc",
        "queue",
        "ready",
        "settings",
        "sink",
        "state",
        "tasks_done",
    )

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        fd_task: int,
        fd_result: int,
        number: int,
        sink: OutputSink,
    ) -> None:
        self.proc = proc
        self.fd_task = fd_task
        self.fd_result = fd_result
        self.number = number  # small and stable: "[worker 2]" in forwarded output
        self.outstanding: deque[Job] = deque()
        self.queue: SimpleQueue[Any] = SimpleQueue()
        self.state = ALIVE
        self.killed = False
        self.settings = {**sink.worker_settings, "authkey": _authkey()}
        self.sink = sink  # where output goes between batches (last job's call)
        self.tasks_done = 0
        self.ready = False  # booted (interpreter, imports, initializer)
        # the functions this worker received (the writer applies the rule)
        self.held_functions = HeldFunctions()

    def retire(self) -> bool:
        """ALIVE to RETIRING; whether it moved."""
        if self.state is ALIVE:
            self.state = RETIRING
            return True
        return False

    def close(self) -> bool:
        """ALIVE or RETIRING to CLOSED; whether it moved."""
        if self.state in (ALIVE, RETIRING):
            self.state = CLOSED
            return True
        return False

    def exited(self) -> bool:
        """To DEAD; whether the exit was expected (the worker was CLOSED)."""
        expected = self.state is CLOSED
        self.state = DEAD
        return expected


class WorkerPool:
    """Worker processes shared by every call with the same settings."""

    MAX_OUTSTANDING = 1

    def __init__(
        self,
        key: Any,
        n_workers: int,
        env: dict[str, str],
        initializer: bytes | None,
        idle_timeout: float | None,
        max_memory_growth: int | None,
        memory_check_interval: float,
        max_tasks_per_child: int | None = None,
    ) -> None:
        self.key = key
        self.pid = os.getpid()
        self.n_target = n_workers
        self.env = env
        self.closed = False
        # Run once the workers have stopped (the memmap files of this pool go then).
        self.on_shutdown: list[Callable[[], None]] = []
        self.max_tasks_per_child = max_tasks_per_child
        self._config = {
            "parent_pid": self.pid,
            "initializer": initializer,
            "idle_timeout": idle_timeout,
            "max_memory_growth": max_memory_growth,
            "memory_check_interval": memory_check_interval,
        }
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._pending: deque[Job] = deque()
        self._next_id = 1
        self._default_sink = OutputSink()
        self._watchdog: Watchdog | None = None

    # -- workers -------------------------------------------------------------
    def _spawn(self) -> _Worker:
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        env = dict(os.environ)
        env.update(self.env)
        env["JOBLET_WORKER_SYS_PATH"] = os.pathsep.join(sys.path)
        try:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    *_site_flags(),
                    "-c",
                    _BOOT,
                    str(task_read),
                    str(result_write),
                ],
                pass_fds=(task_read, result_write),
                env=env,
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(task_read)
            os.close(result_write)
        taken = {other.number for other in self._workers if other.state is not DEAD}
        number = next(n for n in itertools.count(1) if n not in taken)
        worker = _Worker(proc, task_write, result_read, number, self._default_sink)
        worker.queue.put(pickle.dumps({**self._config, **worker.settings}))
        self._workers.append(worker)
        threading.Thread(
            target=self._write_loop, args=(worker,), daemon=True, name="joblet-writer"
        ).start()
        threading.Thread(
            target=self._read_loop, args=(worker,), daemon=True, name="joblet-reader"
        ).start()
        return worker

    def _alive(self) -> list[_Worker]:
        return [worker for worker in self._workers if worker.state is ALIVE]

    def _close(self, worker: _Worker) -> None:
        """Let an idle worker go: closing its task pipe makes it exit."""
        if worker.close():
            worker.queue.put(None)

    def _fill(self, worker: _Worker) -> None:
        while (
            worker.state is ALIVE
            and self._pending
            and len(worker.outstanding) < self.MAX_OUTSTANDING
        ):
            if not self._has_room(worker, self._pending[0]):
                self._retire(worker)
                break
            self._assign(worker, self._pending.popleft())

    def _has_room(self, worker: _Worker, job: Job) -> bool:
        """max_tasks_per_child: whether ``job`` keeps the worker within it (a
        fresh worker takes any batch)."""
        limit = self.max_tasks_per_child
        if limit is None:
            return True
        held = worker.tasks_done + sum(other.n_tasks for other in worker.outstanding)
        return held == 0 or held + job.n_tasks <= limit

    def _retire(self, worker: _Worker) -> None:
        """The worker finishes what it holds, then goes; a new one replaces it."""
        if worker.retire():
            if not worker.outstanding:
                self._close(worker)
            self._replenish()

    def _assign(self, worker: _Worker, job: Job) -> None:
        job.worker = worker
        job.started = time.monotonic()
        worker.outstanding.append(job)
        worker.sink = job.output
        settings = {**job.output.worker_settings, "authkey": _authkey()}
        if settings != worker.settings:
            worker.settings = settings
            worker.queue.put(pickle.dumps(settings))
        worker.queue.put(job)
        if job.time_limit is not None:
            if self._watchdog is None:
                self._watchdog = Watchdog(self)
            self._watchdog.wake()

    def _replenish(self) -> None:
        alive = len(self._alive())
        while alive < self.n_target and not self.closed:
            worker = self._spawn()
            alive += 1
            self._fill(worker)

    def resize(self, n_workers: int) -> None:
        with self._lock:
            self.n_target = n_workers
            alive = self._alive()
            extra = len(alive) - n_workers
            for worker in sorted(alive, key=lambda w: len(w.outstanding)):
                if extra <= 0:
                    break
                if worker.outstanding:
                    worker.retire()
                else:
                    self._close(worker)
                extra -= 1

    # -- threads -------------------------------------------------------------
    def _write_loop(self, worker: _Worker) -> None:
        fd = worker.fd_task
        try:
            while True:
                # Not the previous batch: the idle thread must not keep it alive.
                item = main = buffers = None
                item = worker.queue.get()
                if item is None:
                    break
                if isinstance(item, bytes):
                    write_frame(fd, NOTICE, item, [])
                    continue
                main, buffers = item.main, item.buffers
                if item.cancelled or main is None:
                    continue
                buffers = buffers_for(buffers, item.functions, worker.held_functions)
                write_frame(fd, item.id, main, buffers)
        except OSError:
            pass  # the worker died; the reader reports it
        finally:
            os.close(fd)

    def _read_loop(self, worker: _Worker) -> None:
        fd = worker.fd_result
        while True:
            try:
                frame = read_frame(fd)
            except OSError:
                frame = None
            if frame is None:
                break
            tag, main, buffers = frame
            try:
                status, value, duration = pickle.loads(main, buffers=buffers)
            except BaseException as error:  # a result that cannot be unpickled here
                status, value, duration = ERROR, unreadable_result(error), 0.0
            del main, buffers
            if tag == NOTICE:
                if status == READY:
                    with self._lock:
                        worker.ready = True
                        now = time.monotonic()
                        for running in worker.outstanding:
                            running.started = now
                            if running.time_limit is not None and self._watchdog:
                                self._watchdog.wake()
                elif status == OUTPUT:
                    self._forward(worker, value)
                elif status == RETIRE:
                    with self._lock:
                        worker.retire()
                        if not worker.outstanding:
                            self._close(worker)
                        if self._pending:
                            self._replenish()
                continue
            with self._lock:
                job = None
                for candidate in worker.outstanding:
                    if candidate.id == tag:
                        job = candidate
                        break
                if job is not None:
                    worker.outstanding.remove(job)
                    worker.tasks_done += job.n_tasks
                    self._recycle_if_due(worker)
                    if job.time_limit is not None and self._watchdog:
                        # its deadline is gone: the watchdog sleeps until the
                        # next one, or ends when no timed job is left
                        self._watchdog.wake()
                self._fill(worker)
                if worker.state is RETIRING and not worker.outstanding:
                    self._close(worker)
            if job is None:
                continue
            if status == OK:
                job.complete(value, None, duration)
            else:
                job.complete(None, rebuild_error(value), duration)
            del job, candidate, value  # the idle thread must not keep them alive
        os.close(fd)
        self._on_exit(worker)

    def _forward(self, worker: _Worker, message: Any) -> None:
        kind, payload = message
        try:
            worker.sink.emit(worker.number, kind, payload)
        except Exception:
            # A broken sys.stdout or a failing log handler in the parent: this
            # thread must go on reading results.
            report_callback_error("forwarding the output of a joblet worker")

    def _recycle_if_due(self, worker: _Worker) -> None:
        """max_tasks_per_child: the worker finishes what it holds, then goes."""
        limit = self.max_tasks_per_child
        if limit is not None and worker.tasks_done >= limit and worker.retire():
            self._replenish()

    def stop_late_jobs(self, when_none_left: Callable[[], None]) -> float | None:
        """Stop the workers of jobs past their time limit (the watchdog's
        round); the seconds until the next limit, or None when no timed job
        is left: then ``when_none_left()`` has run under the pool's lock, so
        that no timed job starts between it and the answer."""
        with self._lock:
            now = time.monotonic()
            for job in self._timed_jobs():
                if now - job.started >= job.time_limit:  # type: ignore[operator]
                    self._time_out(job, now)
            remaining = [
                job.started + job.time_limit - now  # type: ignore[operator]
                for job in self._timed_jobs()
            ]
            if not remaining:
                when_none_left()
                return None
            return min(remaining)

    def _time_out(self, job: Job, now: float) -> None:
        """Stop the worker running ``job`` past its time limit (called with the
        lock held); ``job`` fails with TimeoutError, the pool heals."""
        worker = job.worker
        if worker is None or job not in worker.outstanding:
            return
        worker.outstanding.remove(job)
        self._stop(worker)
        elapsed = now - job.started
        error = TaskTimeoutError(
            f"{job.what()} did not finish within task_timeout={job.time_limit:g} s "
            f"(stopped after {elapsed:.1f} s); its worker (pid {worker.proc.pid}) "
            "was stopped and replaced"
        )
        threading.Thread(target=job.complete, args=(None, error), daemon=True).start()
        self._replenish()

    @staticmethod
    def _stop(worker: _Worker) -> None:
        """Kill a worker that runs a batch (called with the lock held): it gets
        no new batch, and its reader thread cleans up once it is gone."""
        worker.killed = True
        worker.close()
        try:
            worker.proc.kill()
        except OSError:
            pass

    def _timed_jobs(self) -> list[Job]:
        """Jobs running with a time limit (called with the lock held)."""
        return [
            job
            for worker in self._workers
            for job in worker.outstanding
            if job.time_limit is not None and worker.state is not DEAD and worker.ready
        ]

    def _on_exit(self, worker: _Worker) -> None:
        try:
            returncode = worker.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()
            returncode = None
        with self._lock:
            expected = worker.exited()
            if worker in self._workers:
                self._workers.remove(worker)
            orphans = list(worker.outstanding)
            worker.outstanding.clear()
            if worker.killed or expected:
                # We stopped it: batches that were not cancelled never started on
                # it (no batch is given to a worker once it is being killed).
                for job in reversed(orphans):
                    if not job.cancelled:
                        job.worker = None
                        self._pending.appendleft(job)
                orphans = []
            worker.queue.put(None)
            if self._pending:
                self._replenish()
        for job in orphans:
            if job.cancelled:
                continue
            message = (
                f"A worker process (pid {worker.proc.pid}) terminated abruptly while "
                f"running {job.what()}: {describe_exit(returncode)}. The pool "
                "replaced it, so the next call works."
            )
            job.complete(
                None, TerminatedWorkerError(message, worker.proc.pid, returncode)
            )

    # -- public --------------------------------------------------------------
    def submit(
        self,
        payload: tuple[bytes, list[Any]],
        callback: Callable[[Any], Any] | None = None,
        describe: Callable[[], str] | None = None,
        output: OutputSink | None = None,
        n_tasks: int = 1,
        time_limit: float | None = None,
        functions: list[tuple[int, str]] | None = None,
    ) -> Job:
        """Queue a pickled batch; ``callback(job)`` runs when it finishes.

        ``output`` says where the output of its tasks goes (forwarded to this
        process's streams by default); ``n_tasks`` counts toward
        ``max_tasks_per_child``; past ``time_limit`` seconds of running, its
        worker is killed and the job fails with ``TimeoutError``;
        ``functions`` are the ``(buffer index, key)`` of the functions sent once
        per worker (see ``_sent_functions``).
        """
        with self._lock:
            if self.closed:
                raise RuntimeError("the worker pool was shut down")
            job = Job(
                self._next_id,
                payload,
                callback,
                describe,
                output if output is not None else self._default_sink,
                n_tasks,
                time_limit,
                functions,
            )
            self._next_id += 1
            alive = self._alive()
            if len(alive) < self.n_target:
                self._replenish()
                alive = self._alive()
            best = None
            for worker in alive:
                if (
                    len(worker.outstanding) < self.MAX_OUTSTANDING
                    and self._has_room(worker, job)
                    and (
                        best is None or len(worker.outstanding) < len(best.outstanding)
                    )
                ):
                    best = worker
            if best is not None:
                self._assign(best, job)
            else:
                self._pending.append(job)
                for worker in alive:  # idle, but too close to max_tasks_per_child
                    if not worker.outstanding and not self._has_room(worker, job):
                        self._retire(worker)
        return job

    def cancel(self, jobs: Any, kill_running: bool = False) -> None:
        """Drop queued batches; kill the workers running one of ``jobs``."""
        jobs = [job for job in jobs if not job.done]
        with self._lock:
            for job in jobs:
                job.cancelled = True
            self._pending = deque(job for job in self._pending if not job.cancelled)
            for job in jobs:
                worker = job.worker
                if worker is None:
                    continue
                if kill_running and worker.outstanding and worker.outstanding[0] is job:
                    self._stop(worker)
        for job in jobs:
            if job.worker is None:
                job.complete(None, CancelledBatchError("cancelled"))

    def shutdown(self, kill: bool = False, wait: float | None = 2.0) -> None:
        """Stop every worker: idle ones exit, busy ones are killed if ``kill``.

        Waits up to ``wait`` seconds for them to exit, then kills them; with
        ``wait=None`` returns at once (busy workers finish their batch first).
        """
        with self._lock:
            self.closed = True
            workers = list(self._workers)
            for worker in workers:
                if kill and worker.outstanding:
                    worker.killed = True
                    try:
                        worker.proc.kill()
                    except OSError:
                        pass
                self._close(worker)
        if wait is None:
            return
        deadline = time.monotonic() + wait
        for worker in workers:
            try:
                worker.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()
        callbacks, self.on_shutdown = self.on_shutdown, []
        for callback in callbacks:
            callback()


def _authkey() -> bytes | None:
    """This process's multiprocessing authkey, for the workers (Manager proxies
    in task arguments need it); None while multiprocessing was never imported,
    as then no proxy exists (importing it only for this would cost ~30 ms)."""
    process = sys.modules.get("multiprocessing.process")
    if process is None:
        return None
    return bytes(process.current_process().authkey)
