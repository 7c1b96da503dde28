"""The worker process: read batches, run them, send results back.

Started as ``python -c <boot> <task fd> <result fd>`` (with the parent's
``-S``/``-s``) and the parent's ``sys.path`` in ``JOBLET_WORKER_SYS_PATH``.
Messages to the parent are ``(status, value, duration)`` frames tagged with the
batch id (0 for notices: retirement, and the output of tasks, see ``_output``).
Frames from the parent tagged 0 carry settings (whether to forward output).
The worker exits when the parent closes the task pipe, when it has been idle for
``idle_timeout`` seconds (after telling the parent), when its memory grew too much
(idem) or when the parent process disappears.
"""

from __future__ import annotations

import gc
import io
import os
import pickle
import select
import signal
import sys
import threading
import time
from typing import Any

from .._errors import ResultPicklingError
from ._output import WorkerOutput
from ._remote_errors import summarize_error
from ._wire import read_frame, write_frame

OK, ERROR, RETIRE, OUTPUT, READY = 0, 1, 2, 3, 4
NOTICE = 0  # tag of frames that answer no batch


class _Channel:
    """The result pipe; tasks' threads may print while the main thread answers."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()

    def send(self, tag: int, main: bytes, buffers: list[Any]) -> None:
        with self._lock:
            write_frame(self.fd, tag, main, buffers)

    def notice(self, status: int, value: Any) -> None:
        self.send(NOTICE, pickle.dumps((status, value, 0.0), protocol=5), [])

    def output(self, kind: str, payload: Any) -> None:
        self.notice(OUTPUT, (kind, payload))


def _buffers_out(buffers: list[Any]) -> Any:
    def keep(buffer: pickle.PickleBuffer) -> bool:
        try:
            buffers.append(buffer.raw())
        except BufferError:
            return True
        return False

    return keep


def _dump_result(value: Any) -> tuple[bytes, list[Any]]:
    buffers: list[Any] = []
    try:
        return _dumps(pickle.Pickler, value, buffers), buffers
    except Exception:
        buffers.clear()
        import cloudpickle

        return _dumps(cloudpickle.Pickler, value, buffers), buffers


def _dumps(pickler_class: type, value: Any, buffers: list[Any]) -> bytes:
    """``value`` pickled by ``pickler_class``, with the result reducers."""
    from .._results import result_pickler

    file = io.BytesIO()
    pickler = result_pickler(pickler_class)(
        file, protocol=5, buffer_callback=_buffers_out(buffers)
    )
    pickler.dump(value)
    return file.getvalue()


def _dump_results(batch: Any, results: Any, duration: float) -> tuple[bytes, list[Any]]:
    try:
        return _dump_result((OK, results, duration))
    except Exception as error:
        raise ResultPicklingError(_unpicklable_result(batch, results, error)) from error


def _unpicklable_result(batch: Any, results: Any, error: Exception) -> str:
    """Which task's result could not be pickled, for the error message."""
    import cloudpickle

    index = 0
    if isinstance(results, list):
        for index, result in enumerate(results):  # noqa: B007 - index used below
            try:
                cloudpickle.dumps(result)
            except Exception as result_error:
                error = result_error
                break
    describe = getattr(batch, "describe_task", None)
    task = describe(index) if describe is not None else "a task"
    return (
        f"The result of {task} could not be pickled to be sent back to the parent "
        f"process: {type(error).__name__}: {error}. Return only picklable values "
        "(e.g. convert open files, locks or generators to plain data in the task)."
    )


def _dump_error(error: BaseException) -> tuple[bytes, list[Any]]:
    """``(ERROR, summary)``, the summary of :func:`summarize_error`."""
    return pickle.dumps((ERROR, summarize_error(error), 0.0), protocol=5), []


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(1)


def _rss() -> int:
    """Resident memory of this process: /proc when there is one (fast), else psutil."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return int(psutil.Process().memory_info().rss)


class _WorkerLoop:
    """One worker's life: read a frame, run it, answer, check whether to retire."""

    def __init__(self, fd_in: int, channel: _Channel, config: dict[str, Any]) -> None:
        self.fd_in = fd_in
        self.channel = channel
        self.idle_timeout = config["idle_timeout"]
        self.growth_limit = config["max_memory_growth"]
        self.check_interval = config["memory_check_interval"]
        self.output = WorkerOutput(channel.output)
        self.authkey: bytes | None = None
        self.apply(config)
        self.baseline: int | None = None
        self.last_check = time.monotonic()
        self.retiring = False

    def run(self) -> None:
        while True:
            if self.idle_timeout and not self.retiring:
                ready, _, _ = select.select([self.fd_in], [], [], self.idle_timeout)
                if not ready:
                    self.retire("idle")
                    continue
            frame = read_frame(self.fd_in)
            if frame is None:
                break
            tag, task_bytes, in_buffers = frame
            if tag == NOTICE:
                self.apply(pickle.loads(task_bytes))
                continue
            out, out_buffers = self.run_batch(task_bytes, in_buffers)
            del task_bytes, in_buffers, frame
            self.output.finish_batch()
            self.channel.send(tag, out, out_buffers)
            del out, out_buffers
            self.check_memory()
        self.output.set_forwarding(False)

    def apply(self, settings: dict[str, Any]) -> None:
        """Settings from the parent: output forwarding, multiprocessing authkey."""
        self.output.apply(settings)
        authkey = settings.get("authkey")
        if authkey and authkey != self.authkey:
            # The parent's key, so that multiprocessing.Manager proxies passed
            # as task arguments can authenticate with their manager.
            import multiprocessing

            multiprocessing.current_process().authkey = authkey
            self.authkey = authkey

    def run_batch(
        self, task_bytes: bytearray, in_buffers: list[bytearray]
    ) -> tuple[bytes, list[Any]]:
        start = time.perf_counter()
        # Loaded by the first batch that brings memory-mapped data; until then
        # there is no state to reset and no advice to give (and no import cost).
        memmapping = sys.modules.get("joblet_parallel._memmapping")
        if memmapping is not None:
            memmapping.reset_worker_state()
        try:
            batch = pickle.loads(task_bytes, buffers=in_buffers)
            result = batch()
            return _dump_results(batch, result, time.perf_counter() - start)
        except BaseException as error:
            memmapping = sys.modules.get("joblet_parallel._memmapping")
            if memmapping is not None:
                error = memmapping.explain_worker_error(error)
            return _dump_error(error)

    def retire(self, reason: str) -> None:
        self.retiring = True
        self.channel.notice(RETIRE, reason)

    def check_memory(self) -> None:
        now = time.monotonic()
        if not self.growth_limit or self.retiring:
            return
        if self.baseline is not None and now - self.last_check <= self.check_interval:
            return
        self.last_check = now
        rss = _rss()
        if self.baseline is None:
            self.baseline = rss
        elif rss - self.baseline > self.growth_limit:
            gc.collect()
            if _rss() - self.baseline > self.growth_limit:
                self.retire("memory")


def main() -> None:
    fd_in, fd_out = int(sys.argv[1]), int(sys.argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    frame = read_frame(fd_in)
    if frame is None:
        return
    config = pickle.loads(frame[1])
    threading.Thread(
        target=_watch_parent, args=(config["parent_pid"],), daemon=True
    ).start()
    loop = _WorkerLoop(fd_in, _Channel(fd_out), config)
    if config["initializer"] is not None:
        initializer, initargs = pickle.loads(config["initializer"])
        initializer(*initargs)
        loop.output.finish_batch()
    loop.channel.notice(READY, None)  # time limits count from here, not from spawn
    loop.run()
    os.close(fd_out)
