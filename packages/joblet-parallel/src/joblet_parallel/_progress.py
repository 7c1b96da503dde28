"""Progress: joblib's verbose messages and the ``progress`` hook."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from ._statistics import CallStatistics


def short_format_time(seconds: float) -> str:
    """``' 12.3s'`` or ``' 1.5min'``, as joblib prints elapsed and remaining times."""
    if seconds > 60:
        return f"{seconds / 60.0:4.1f}min"
    return f" {seconds:5.1f}s"


def verbosity_filter(index: int, verbose: int) -> bool:
    """True when the message for batch ``index`` is skipped at this verbosity."""
    if not verbose:
        return True
    if verbose > 10:
        return False
    if index == 0:
        return False
    scale_base = 0.5 * (11 - verbose) ** 2
    scale = math.sqrt(index / scale_base)
    next_scale = math.sqrt((index + 1) / scale_base)
    return int(next_scale) == int(scale)


class ProgressHook:
    """Adapts what the user passed as ``progress`` to one interface.

    * an object with ``update(n)`` (tqdm, rich's wrappers, ...): ``update`` gets
      the number of newly completed tasks, ``total`` is set once known when the
      object's ``total`` is None, and ``close()`` is called at the end;
    * a callable: called as ``progress(n_completed, n_total)`` after each completed
      batch, ``n_total`` being None while the input is not fully consumed.
    """

    def __init__(self, target: Any) -> None:
        if not (hasattr(target, "update") or callable(target)):
            raise TypeError(
                "progress must be a callable progress(n_completed, n_total) or an "
                f"object with update(n) and close() (such as tqdm), got {target!r}"
            )
        self.target = target
        self.reported = 0
        self.total_set = False

    def report(self, completed: int, total: int | None) -> None:
        if completed == self.reported and (total is None or self.total_set):
            return
        target = self.target
        if hasattr(target, "update"):
            if total is not None and not self.total_set:
                self.total_set = True
                if getattr(target, "total", 0) is None:
                    target.total = total
                    refresh = getattr(target, "refresh", None)
                    if callable(refresh):
                        refresh()
            if completed > self.reported:
                target.update(completed - self.reported)
        else:
            self.total_set = total is not None
            target(completed, total)
        self.reported = completed

    def close(self) -> None:
        close = getattr(self.target, "close", None)
        if hasattr(self.target, "update") and callable(close):
            close()


class CallProgress:
    """The progress of one call: its counts, joblib's verbose messages and the
    ``progress`` hook.

    Created by ``Parallel`` for each call and handed to whoever runs it (the
    dispatcher, or ``Parallel``'s inline loop), which writes the counts in
    :attr:`statistics` and calls :meth:`step`, :meth:`report` and
    :meth:`finish`; ``Parallel`` reads the counts.

    Parameters
    ----------
    statistics : CallStatistics
        The counts of the call.
    verbose : int
        ``Parallel``'s verbosity.
    log : callable
        Prints one message of the call.
    hook : ProgressHook or None
        The user's ``progress`` target.
    """

    def __init__(
        self,
        statistics: CallStatistics,
        verbose: int,
        log: Callable[[str], None],
        hook: ProgressHook | None,
    ) -> None:
        self.statistics = statistics
        self.verbose = verbose
        self.log = log
        self.hook = hook
        self.start = time.monotonic()

    @property
    def has_hook(self) -> bool:
        """Whether a ``progress`` hook wants to hear of completions."""
        return self.hook is not None

    def step(self) -> None:
        """A batch completed: a verbose message, when one is due."""
        if self.verbose:
            self._print(finished=False)

    def report(self) -> None:
        """Tell the ``progress`` hook the counts (when they changed)."""
        if self.hook is not None:
            stats = self.statistics
            self.hook.report(
                stats.completed_tasks, stats.total_tasks if stats.exhausted else None
            )

    def finish(self) -> None:
        """The call succeeded: the last report and message."""
        self.report()
        if self.verbose:
            self._print(finished=True)

    def close(self) -> None:
        """The call ended, however: close the hook (a tqdm bar)."""
        if self.hook is not None:
            self.hook.close()

    def _print(self, finished: bool) -> None:
        stats = self.statistics
        elapsed = time.monotonic() - self.start
        done = stats.completed_tasks
        dispatched = stats.total_tasks if stats.exhausted else stats.dispatched_tasks
        if finished:
            self.log(
                f"Done {done:3d} out of {done:3d} | elapsed: "
                f"{short_format_time(elapsed)} finished"
            )
            return
        if not stats.exhausted:
            if verbosity_filter(stats.completed_batches - 1, self.verbose):
                return
            self.log(
                f"Done {done:3d} tasks      | elapsed: {short_format_time(elapsed)}"
            )
            return
        if done:
            cursor = dispatched - done + 1 - stats.pre_dispatch_tasks
            frequency = (dispatched // self.verbose) + 1
            if done + 1 == dispatched or cursor % frequency:
                return
        remaining = (elapsed / done) * (dispatched - done) if done else 0.0
        self.log(
            f"Done {done:3d} out of {dispatched:3d} | elapsed: "
            f"{short_format_time(elapsed)} remaining: {short_format_time(remaining)}"
        )
