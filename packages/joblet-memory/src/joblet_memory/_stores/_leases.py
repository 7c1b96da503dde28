"""Compute once across machines: a lease object in the store.

When several processes, on any number of hosts, miss the same entry, the one
that creates the entry's ``lease`` object computes; the others poll until the
entry appears. The lease holds its owner and an expiry time; its holder renews
it while computing, so a holder that dies (SIGKILL, lost host) stops renewing,
the lease expires, and a waiter takes over. Waiting is bounded by the store's
``lock_timeout``. A lease can never honestly claim more than its duration
ahead (plus :data:`CLOCK_SKEW` between hosts): one that claims more, forged
or written by a broken clock, is stale at once.

Creation is a conditional put (``If-None-Match: *``, fsspec's
``pipe_file(mode='create')``): the store itself guarantees that only one of many
concurrent creators succeeds. S3 (AWS since 2024, MinIO, SeaweedFS) supports it.
On a filesystem without it, fsspec checks for the object then writes it, a
narrow race in which two callers may both compute: that costs time, never a
wrong result, because entries are written whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

_FIRST_SLEEP = 0.02
_MAX_SLEEP = 0.5
#: Seconds the clocks of two hosts sharing a store may disagree.
CLOCK_SKEW = 300.0


class Lease:
    """The lease of one entry, at ``path`` in the filesystem ``fs``.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
    path : str
        The lease object's path (beside the entry's files).
    duration : float
        Seconds a lease lives without renewal; the holder renews it every
        third of that.
    """

    def __init__(self, fs: Any, path: str, duration: float) -> None:
        self.fs = fs
        self.path = path
        self.duration = duration
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _body(self) -> bytes:
        expires = time.time() + self.duration
        return json.dumps({"owner": self.owner, "expires": expires}).encode()

    def try_create(self) -> bool:
        """Create the lease if nobody holds it; True if this caller now holds it."""
        try:
            self.fs.pipe_file(self.path, self._body(), mode="create")
        except FileExistsError:
            return False
        except OSError as error:
            # s3fs reports a failed precondition (412, or 409 for a concurrent
            # conditional write) as an OSError. Not an existence check: the
            # holder may have released the lease since, and this caller must
            # then poll again, not compute uncoordinated.
            if _is_precondition_failure(error) or self.fs.exists(self.path):
                return False
            raise  # the store is unreachable: no lease was created
        return True

    def holder(self) -> dict[str, Any] | None:
        """The current lease document, or None if there is no (readable) lease."""
        try:
            document = json.loads(self.fs.cat_file(self.path))
        except FileNotFoundError:
            return None
        except ValueError:
            return {"owner": "?", "expires": 0.0}  # damaged: treat as expired
        return document if isinstance(document, dict) else {"expires": 0.0}

    def take_over_if_expired(self) -> bool:
        """Remove an expired lease (its holder died); True if one was removed."""
        document = self.holder()
        if document is None:
            return True
        try:
            expires = float(document.get("expires", 0.0))
        except (TypeError, ValueError):
            expires = 0.0
        now = time.time()
        if now < expires <= now + self.duration + CLOCK_SKEW:
            return False  # held, for no longer than a live holder could claim
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path)
        return True

    def start_renewing(self) -> None:
        self._renewer = threading.Thread(
            target=self._renew, name="joblet-memory-lease", daemon=True
        )
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.duration / 3):
            with contextlib.suppress(Exception):  # a lost store: the lease expires
                document = self.holder()
                if document is None or document.get("owner") != self.owner:
                    return  # taken over after an expiry: stop claiming it
                self.fs.pipe_file(self.path, self._body())

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        with contextlib.suppress(Exception):
            document = self.holder()
            if document is not None and document.get("owner") == self.owner:
                self.fs.rm_file(self.path)


@contextlib.contextmanager
def hold_lease(
    fs: Any,
    path: str,
    duration: float,
    timeout: float,
    ready: Callable[[], bool],
) -> Iterator[str]:
    """Hold the lease at ``path`` while computing; see :meth:`StoreBackendBase.lock_item`.

    Yields ``'acquired'``, ``'ready'`` (the entry appeared while waiting),
    ``'timeout'`` or ``'unavailable'`` (the store cannot be reached: compute
    without coordination).
    """
    lease = Lease(fs, path, duration)
    try:
        state = _wait(lease, time.monotonic() + timeout, ready)
    except Exception:
        state = "unavailable"
    if state != "acquired":
        yield state
        return
    lease.start_renewing()
    try:
        yield "ready" if _quietly(ready) else "acquired"
    finally:
        lease.release()


def _wait(lease: Lease, deadline: float, ready: Callable[[], bool]) -> str:
    """Poll until this caller holds the lease, the entry is ready, or time is up."""
    sleep = _FIRST_SLEEP
    while True:
        if lease.try_create():
            return "acquired"
        if ready():
            return "ready"
        if lease.take_over_if_expired():
            continue  # the holder died or gave up: try to create it now
        if time.monotonic() >= deadline:
            return "timeout"
        time.sleep(sleep)
        sleep = min(sleep * 2, _MAX_SLEEP)


def _is_precondition_failure(error: BaseException) -> bool:
    """Whether ``error`` says the conditional put lost (the lease exists)."""
    text = str(error).lower()
    if "precondition" in text or "pre-condition" in text:
        return True
    cause = error.__cause__ or error.__context__
    response = getattr(cause, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ("PreconditionFailed", "ConditionalRequestConflict")


def _quietly(ready: Callable[[], bool]) -> bool:
    try:
        return ready()
    except Exception:
        return False
