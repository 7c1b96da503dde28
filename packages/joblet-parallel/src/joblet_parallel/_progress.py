"""Progress: joblib's verbose messages and the ``progress`` hook."""

from __future__ import annotations

import math
from typing import Any


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
