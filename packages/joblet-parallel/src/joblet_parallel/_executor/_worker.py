"""The worker process: read batches, run them, send results back.

Started as ``python -S -c <boot> <task fd> <result fd>`` with the parent's
``sys.path`` in ``JOBLET_WORKER_SYS_PATH``. Messages to the parent are
``(status, value, duration)`` frames tagged with the batch id (0 for notices).
The worker exits when the parent closes the task pipe, when it has been idle for
``idle_timeout`` seconds (after telling the parent), when its memory grew too much
(idem) or when the parent process disappears.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
from typing import Any

from .._memmapping import explain_worker_error, reset_worker_state
from ._wire import read_frame, write_frame

OK, ERROR, RETIRE = 0, 1, 2
NOTICE = 0  # tag of frames that answer no batch


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
        return pickle.dumps(
            value, protocol=5, buffer_callback=_buffers_out(buffers)
        ), buffers
    except Exception:
        buffers.clear()
        import cloudpickle

        return cloudpickle.dumps(
            value, protocol=5, buffer_callback=_buffers_out(buffers)
        ), buffers


def _dump_error(error: BaseException) -> tuple[bytes, list[Any]]:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    if isinstance(error, KeyboardInterrupt):
        error = RuntimeError("KeyboardInterrupt in a worker")
    error.__traceback__ = None
    try:
        import cloudpickle

        return cloudpickle.dumps((ERROR, (error, text), 0.0), protocol=5), []
    except Exception:
        summary = (None, text, type(error).__qualname__, str(error))
        return pickle.dumps((ERROR, summary, 0.0), protocol=5), []


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
    if config["initializer"] is not None:
        initializer, initargs = pickle.loads(config["initializer"])
        initializer(*initargs)
    idle_timeout = config["idle_timeout"]
    growth_limit = config["max_memory_growth"]
    check_interval = config["memory_check_interval"]
    baseline = None
    last_check = time.monotonic()
    retiring = False
    stdout, stderr = sys.stdout, sys.stderr
    while True:
        if idle_timeout and not retiring:
            ready, _, _ = select.select([fd_in], [], [], idle_timeout)
            if not ready:
                retiring = True
                main_bytes = pickle.dumps((RETIRE, "idle", 0.0))
                write_frame(fd_out, NOTICE, main_bytes, [])
                continue
        frame = read_frame(fd_in)
        if frame is None:
            break
        tag, task_bytes, in_buffers = frame
        start = time.perf_counter()
        reset_worker_state()
        try:
            batch = pickle.loads(task_bytes, buffers=in_buffers)
            del task_bytes, in_buffers
            result = batch()
            del batch
            out, out_buffers = _dump_result((OK, result, time.perf_counter() - start))
            del result
        except BaseException as error:
            out, out_buffers = _dump_error(explain_worker_error(error))
        try:
            if stdout is not None:
                stdout.flush()
            if stderr is not None:
                stderr.flush()
        except Exception:
            pass
        write_frame(fd_out, tag, out, out_buffers)
        del out, out_buffers
        now = time.monotonic()
        if (
            growth_limit
            and not retiring
            and (baseline is None or now - last_check > check_interval)
        ):
            last_check = now
            rss = _rss()
            if baseline is None:
                baseline = rss
            elif rss - baseline > growth_limit:
                gc.collect()
                if _rss() - baseline > growth_limit:
                    retiring = True
                    write_frame(
                        fd_out, NOTICE, pickle.dumps((RETIRE, "memory", 0.0)), []
                    )
    os.close(fd_out)
