"""The counts of one ``Parallel`` call, kept by its dispatcher, read by ``Parallel``.

As trio's runner publishes ``RunStatistics``: the dispatcher (or, for a call
run inline, ``Parallel`` itself) is the only writer; progress messages and
progress hooks read them. A fresh object per call.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CallStatistics"]


@dataclass
class CallStatistics:
    """Counts of one call.

    Attributes
    ----------
    dispatched_tasks, dispatched_batches : int
        Sent to the backend so far.
    completed_tasks, completed_batches : int
        Finished so far (results or errors).
    total_tasks : int
        The number of tasks of the call, known once the input is exhausted.
    exhausted : bool
        Whether the input iterator has been read to its end.
    pre_dispatch_tasks : int
        How many tasks are sent ahead of the results (``pre_dispatch``).
    """

    dispatched_tasks: int = 0
    dispatched_batches: int = 0
    completed_tasks: int = 0
    completed_batches: int = 0
    total_tasks: int = 0
    exhausted: bool = False
    pre_dispatch_tasks: int = 0
