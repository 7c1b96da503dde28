"""One caller computes a missing entry; the others wait for its result.

The lock is an advisory ``flock`` on a small file inside the entry's folder. The
kernel releases it when its holder exits or dies, so a crashed computation never
leaves waiters stuck; a computation that runs longer than the timeout lets the
waiters give up waiting and compute themselves (with a :class:`CacheWarning`).
Lock files are never deleted while the entry lives: deleting one while another
process holds it open would let two callers hold "the" lock at once.

Where ``fcntl`` does not exist (Windows) or the lock file cannot be created (a
read-only cache), every caller computes, as joblib does: writes are atomic, so
this costs time, never correctness.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
_FIRST_SLEEP = 0.0005
_MAX_SLEEP = 0.05


@contextmanager
def entry_lock(
    path: str, timeout: float, ready: Callable[[], bool], file_mode: int = 0o600
) -> Iterator[str]:
    """Hold the lock of the entry folder ``path``.

    Yields ``'acquired'`` (this caller computes), ``'ready'`` (another caller
    finished while this one waited: read the entry), ``'timeout'`` or
    ``'unavailable'`` (compute without the lock).

    Parameters
    ----------
    path : str
        The entry's folder; created if missing.
    timeout : float
        Seconds to wait for another caller's computation.
    ready : callable
        Returns True once the entry exists; polled while waiting so that a
        waiter leaves as soon as the result is stored.
    file_mode : int, default 0o600
        Mode of the lock file (the store's file mode).
    """
    if fcntl is None:
        yield "unavailable"
        return
    try:
        os.makedirs(path, exist_ok=True)
        fd = os.open(
            os.path.join(path, LOCK_NAME),
            os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
            file_mode,
        )
        if file_mode & 0o077:  # the umask may have removed the group bits
            try:
                os.fchmod(fd, file_mode)
            except OSError:  # another user's lock file in a group cache
                pass
    except OSError:
        yield "unavailable"
        return
    try:
        deadline = time.monotonic() + timeout
        sleep = _FIRST_SLEEP
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            except OSError:  # some network filesystems refuse flock
                yield "unavailable"
                return
            else:
                try:
                    yield "ready" if ready() else "acquired"
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                return
            if ready():
                yield "ready"
                return
            if time.monotonic() >= deadline:
                yield "timeout"
                return
            time.sleep(sleep)
            sleep = min(sleep * 2, _MAX_SLEEP)
    finally:
        os.close(fd)
