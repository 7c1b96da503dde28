"""What workers say reaches the user: stdout, stderr, logging and warnings.

Worker side (:class:`WorkerOutput`): ``sys.stdout``/``sys.stderr`` become line
senders, a handler on the root logger sends each record, and
``warnings.showwarning`` sends each warning; every message goes to the parent as
an ``OUTPUT`` notice on the result pipe, before the result of the batch that
produced it. Nothing is sent when a task says nothing.

Parent side (:class:`OutputSink`, one per call): writes forwarded lines to the
parent's *current* ``sys.stdout``/``sys.stderr`` (a Jupyter cell, a replaced
stream), whole lines at a time under one lock so that two workers never mix
half-lines; re-emits log records through the parent's logger of the same name;
re-raises each warning once per (category, message, location).
"""

from __future__ import annotations

import io
import logging
import pickle
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

STDOUT, STDERR, LOG, WARNING = "stdout", "stderr", "log", "warning"

# Attributes every LogRecord has; anything else in its __dict__ came from `extra`.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

Send = Callable[[str, Any], None]


# -- worker side ---------------------------------------------------------------
class _LineSender(io.TextIOBase):
    """A text stream that sends complete lines to the parent.

    A partial line waits for its end (or for the end of the batch, see
    :meth:`finish`), so the parent only ever receives whole lines.
    """

    def __init__(self, kind: str, send: Send, original: Any) -> None:
        super().__init__()
        self._kind = kind
        self._send = send
        self._original = original
        self._pending: list[str] = []
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "backslashreplace"

    @property
    def buffer(self) -> _BinaryLines:
        return _BinaryLines(self)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        # Subprocesses given sys.stdout write to the worker's own descriptor.
        if self._original is None:
            raise io.UnsupportedOperation("fileno")
        return int(self._original.fileno())

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._pending.append(text)
            if "\n" not in text:
                return len(text)
            joined = "".join(self._pending)
            cut = joined.rindex("\n") + 1
            lines, rest = joined[:cut], joined[cut:]
            self._pending = [rest] if rest else []
        self._send(self._kind, lines)
        return len(text)

    def finish(self) -> None:
        """Send a partial line left at the end of a batch, ended by a newline."""
        with self._lock:
            rest = "".join(self._pending)
            self._pending = []
        if rest:
            self._send(self._kind, rest + "\n")


class _BinaryLines:
    """``sys.stdout.buffer`` for code that writes bytes."""

    def __init__(self, text: _LineSender) -> None:
        self._text = text

    def write(self, data: bytes) -> int:
        self._text.write(bytes(data).decode("utf-8", "backslashreplace"))
        return len(data)

    def flush(self) -> None:
        pass


class _RecordSender(logging.Handler):
    def __init__(self, send: Send) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = dict(record.__dict__)
            fields["msg"] = record.getMessage()
            fields["args"] = None
            if record.exc_info:
                fields["exc_text"] = self.format_exception(record)
            fields["exc_info"] = None
            fields.pop("message", None)
            for name in [key for key in fields if key not in _RECORD_FIELDS]:
                try:
                    pickle.dumps(fields[name])
                except Exception:
                    fields[name] = repr(fields[name])
            self._send(LOG, fields)
        except Exception:
            self.handleError(record)

    def format_exception(self, record: logging.LogRecord) -> str:
        return logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]


class WorkerOutput:
    """Installs the senders in a worker; ``forward=False`` restores the streams."""

    def __init__(self, send: Send) -> None:
        self._original = (sys.stdout, sys.stderr)
        self._stdout = _LineSender(STDOUT, send, sys.stdout)
        self._stderr = _LineSender(STDERR, send, sys.stderr)
        self._handler = _RecordSender(send)
        self._send = send
        self._original_showwarning = warnings.showwarning
        self._original_level: int | None = None
        self.forwarding = False

    def apply(self, settings: dict[str, Any]) -> None:
        """Settings sent by the parent: whether to forward, from which log level."""
        self.set_forwarding(settings["forward_output"])
        if self.forwarding:
            root = logging.getLogger()
            if self._original_level is None:
                self._original_level = root.level
            # The parent filters records again with its own loggers.
            root.setLevel(min(settings["log_level"], self._original_level or 100))

    def set_forwarding(self, forward: bool) -> None:
        if forward == self.forwarding:
            return
        self.forwarding = forward
        root = logging.getLogger()
        if forward:
            sys.stdout, sys.stderr = self._stdout, self._stderr
            root.addHandler(self._handler)
            warnings.showwarning = self._show_warning
        else:
            self.finish_batch()
            sys.stdout, sys.stderr = self._original
            root.removeHandler(self._handler)
            if self._original_level is not None:
                root.setLevel(self._original_level)
                self._original_level = None
            warnings.showwarning = self._original_showwarning

    def finish_batch(self) -> None:
        """Before a batch's result: send what its tasks left on a partial line
        (or flush the worker's own streams when not forwarding)."""
        if self.forwarding:
            self._stdout.finish()
            self._stderr.finish()
            return
        for stream in self._original:
            try:
                if stream is not None:
                    stream.flush()
            except Exception:
                pass  # a closed or broken stream must not fail the batch

    def _show_warning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        try:
            pickle.loads(pickle.dumps(category))
            sent_category: Any = category
        except Exception:  # defined where the parent cannot import it
            sent_category = f"{category.__module__}.{category.__qualname__}"
        self._send(WARNING, (sent_category, str(message), filename, lineno))


# -- parent side ---------------------------------------------------------------
def lowest_enabled_log_level() -> int:
    """The lowest level any logger of this process lets through.

    Workers forward records from this level up; the parent then filters them
    with the logger of the same name, as if they had been logged here.
    """
    levels = [logging.getLogger().getEffectiveLevel()]
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels.append(logger.level)
    return max(logging.DEBUG, min(levels))


class OutputSink:
    """Where the output of one call's tasks goes.

    Parameters
    ----------
    forward : bool
        False leaves worker output on the workers' own file descriptors (the
        terminal the parent was started from), as plain ``multiprocessing`` does.
    prefix : bool
        Start each forwarded line with ``[worker N] ``.
    """

    _write_lock = threading.Lock()  # one for all calls: lines of two calls never mix

    def __init__(self, forward: bool = True, prefix: bool = False) -> None:
        self.forward = forward
        self.prefix = prefix
        # What the workers running this call's tasks must be told (when it
        # differs from what they were last told).
        self.worker_settings = {
            "forward_output": forward,
            "log_level": lowest_enabled_log_level(),
        }
        self._warned: set[tuple[Any, ...]] = set()
        self._warned_lock = threading.Lock()

    def emit(self, worker_number: int, kind: str, payload: Any) -> None:
        """Reproduce one message of worker ``worker_number`` in this process."""
        if kind == LOG:
            self._log(payload)
        elif kind == WARNING:
            self._warn(*payload)
        else:
            self._write(worker_number, kind, payload)

    def _write(self, worker_number: int, kind: str, text: str) -> None:
        stream = sys.stdout if kind == STDOUT else sys.stderr
        if stream is None:  # e.g. pythonw: nowhere to write
            return
        if self.prefix:
            head = f"[worker {worker_number}] "
            text = "".join(head + line for line in text.splitlines(keepends=True))
        with self._write_lock:
            stream.write(text)
            stream.flush()

    @staticmethod
    def _log(fields: dict[str, Any]) -> None:
        logger = logging.getLogger(fields.get("name") or None)
        if logger.isEnabledFor(fields.get("levelno", logging.INFO)):
            logger.handle(logging.makeLogRecord(fields))

    def _warn(self, category: Any, message: str, filename: str, lineno: int) -> None:
        if isinstance(category, str):  # a class the parent cannot import
            message = f"{category}: {message}"
            category = UserWarning
        key = (category, message, filename, lineno)
        with self._warned_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        warnings.warn_explicit(message, category, filename, lineno)
