"""Time formatting and small logging helpers, as ``joblib.logger``.

Libraries written for joblib reach these names directly (scikit-learn's
``_fit_and_score`` calls ``logger.short_format_time`` whenever ``verbose > 1``),
so they keep joblib's names, signatures and output.

>>> from joblet_parallel.logger import format_time, short_format_time
>>> short_format_time(42.0), short_format_time(90.0), format_time(90.0)
('  42.0s', ' 1.5min', '90.0s, 1.5min')
"""

from __future__ import annotations

import logging
import os
import pprint
import shutil
import sys
import time
from typing import Any

from ._progress import short_format_time

__all__ = ["Logger", "PrintTime", "format_time", "pformat", "short_format_time"]


def format_time(t: float) -> str:
    """A duration in seconds and in minutes: ``'12.3s, 0.2min'``.

    Parameters
    ----------
    t : float
        Duration in seconds.

    Returns
    -------
    str
    """
    return f"{t:.1f}s, {t / 60.0:.1f}min"


def pformat(obj: Any, indent: int = 0, depth: int = 3) -> str:
    """``pprint.pformat`` of ``obj``, numpy arrays printed briefly.

    Parameters
    ----------
    obj : object
        What to format.
    indent : int, default 0
        Passed to :func:`pprint.pformat`.
    depth : int, default 3
        Maximum nesting depth shown.

    Returns
    -------
    str
    """
    numpy = sys.modules.get("numpy")  # only when the caller already uses it
    if numpy is None:
        return pprint.pformat(obj, depth=depth, indent=indent)
    options = numpy.get_printoptions()
    numpy.set_printoptions(precision=6, threshold=64, edgeitems=1)
    try:
        return pprint.pformat(obj, depth=depth, indent=indent)
    finally:
        numpy.set_printoptions(**options)


class Logger:
    """Base class of objects that log messages tagged with their ``repr``.

    Parameters
    ----------
    depth : int, default 3
        Nesting depth of the objects shown by :meth:`format`.
    name : str, optional
        Name of the :mod:`logging` logger; ``'joblet'`` by default.
    """

    def __init__(self, depth: int = 3, name: str | None = None) -> None:
        self.depth = depth
        self._name = name or "joblet"

    def warn(self, msg: str) -> None:
        """Log ``msg`` at WARNING level."""
        logging.getLogger(self._name).warning("[%s]: %s", self, msg)

    def info(self, msg: str) -> None:
        """Log ``msg`` at INFO level."""
        logging.getLogger(self._name).info("[%s]: %s", self, msg)

    def debug(self, msg: str) -> None:
        """Log ``msg`` at DEBUG level."""
        logging.getLogger(self._name).debug("[%s]: %s", self, msg)

    def format(self, obj: Any, indent: int = 0) -> str:
        """The representation of ``obj`` used in messages (see :func:`pformat`)."""
        return pformat(obj, indent=indent, depth=self.depth)


class PrintTime:
    """Print, to stderr, messages with the time elapsed since the previous one.

    Parameters
    ----------
    logfile : str, optional
        Also append the messages to this file (older logs are rotated to
        ``logfile.1`` ... ``logfile.9``).
    logdir : str, optional
        Log to ``joblet.log`` in this folder instead; not with ``logfile``.

    Examples
    --------
    >>> from joblet_parallel.logger import PrintTime
    >>> print_time = PrintTime()
    >>> print_time("loaded")  # doctest: +SKIP
    loaded: 0.0s, 0.0min
    """

    def __init__(self, logfile: str | None = None, logdir: str | None = None) -> None:
        if logfile is not None and logdir is not None:
            raise ValueError("Cannot specify both logfile and logdir")
        self.last_time = time.time()
        self.start_time = self.last_time
        if logdir is not None:
            logfile = os.path.join(logdir, "joblet.log")
        self.logfile = logfile
        if logfile is not None:
            self._start_log(logfile)

    def _start_log(self, logfile: str) -> None:
        # Logging must never fail the computation (several processes may write).
        try:
            os.makedirs(os.path.dirname(logfile) or ".", exist_ok=True)
            if os.path.exists(logfile):
                for i in range(8, 0, -1):
                    if os.path.exists(f"{logfile}.{i}"):
                        shutil.move(f"{logfile}.{i}", f"{logfile}.{i + 1}")
                # A copy, not a move: a process following the file keeps it.
                shutil.copy(logfile, f"{logfile}.1")
            with open(logfile, "w") as handle:
                handle.write("\nLogging joblet python script\n")
                handle.write(f"\n---{time.ctime(self.last_time)}---\n")
        except OSError:
            pass

    def __call__(self, msg: str = "", total: bool = False) -> None:
        """Print ``msg`` with the time since the last call (or since the start)."""
        if total:
            lapse = time.time() - self.start_time
            full_msg = f"{msg}: {lapse:.2f}s, {lapse / 60:.1f} min"
        else:
            full_msg = f"{msg}: {format_time(time.time() - self.last_time)}"
        print(full_msg, file=sys.stderr)
        if self.logfile is not None:
            try:
                with open(self.logfile, "a") as handle:
                    print(full_msg, file=handle)
            except OSError:
                pass
        self.last_time = time.time()
