"""Per-buffer xxh3 checksums: computed while writing, verified while reading.

Format version 2 files end with one little-endian ``u64`` xxh3_64 per buffer,
right after the last buffer. Each buffer is hashed in slices of 1 or 4 MiB,
in the same pass as the write or the read, while the slice is in the CPU cache.
A buffer of ``BACKGROUND_MIN`` bytes or more is hashed on a helper thread
(xxhash releases the GIL, and so do ``write`` and ``readinto``) when a CPU is
free beside the I/O: a dump hashes slice k while slice k is written, a load
hashes slice k while slice k + 1 is read. On a 2-core machine a 1 GB verified
load took about 86 ms this way against 96 ms hashing inline (a plain read of
the same bytes: 81 ms): the check costs the hash of the last slice, not of
the whole buffer. When other work holds the other CPUs, the helper only runs
after the I/O, hashing slices that have left the cache (a verified load took
107 ms with the helper against 100 ms inline, in 1 MiB slices that the hash
reads from the CPU's own cache): then the slices are hashed inline.

A load from a path reads a buffer of 64 MiB or more with two threads instead,
each hashing the slice it read (see :mod:`._split_read`); the helper above
serves dumps, smaller buffers and file objects.
"""

from __future__ import annotations

import os
import queue
import struct
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

from ._errors import FormatError

SLICE = 1 << 22  # a slice hashed by the helper thread
INLINE_SLICE = 1 << 20  # a slice hashed inline: it is still in the CPU's cache
BACKGROUND_MIN = 1 << 24  # buffers this large are hashed on a helper thread
#: At most this many slices wait for the helper: 16 MiB, hashed from the CPU's
#: last-level cache; a helper starved by other work then holds the I/O back
#: instead of hashing cold memory after it.
MAX_LAG = 4
DIGEST = struct.Struct("<Q")  # CHECKSUM_SIZE bytes


def new_hasher() -> Any:
    import xxhash

    return xxhash.xxh3_64()


def _running_tasks() -> int | None:
    """Threads running or ready to run on the machine now (this one included).

    Linux's ``/proc/loadavg`` counts them at the moment it is read; the load
    averages beside it lag by a minute, too slow to see a test suite start.
    None where there is no such count.
    """
    try:
        with open("/proc/loadavg", "rb") as handle:
            return int(handle.read().split()[3].split(b"/")[0])
    except (OSError, IndexError, ValueError):
        return None


def spare_cpu() -> bool:
    """True when a helper thread would find a CPU free beside the I/O.

    This process must be allowed two CPUs or more, and the machine must have a
    CPU that no running thread holds besides the one doing the I/O (on Linux,
    counted now; elsewhere the 1-minute load average must leave one CPU idle;
    where there is neither, two allowed CPUs suffice).
    """
    from joblet_hash.threads import usable_cpu_count

    if usable_cpu_count() < 2:
        return False
    cpus = os.cpu_count() or 1
    running = _running_tasks()
    if running is not None:
        return running < cpus
    try:
        return os.getloadavg()[0] < cpus - 0.5
    except (AttributeError, OSError):  # Windows has no load average
        return True


class _SliceHasher:
    """One xxh3_64 fed slice by slice, inline or on a helper thread.

    The helper takes slices from a queue (``SimpleQueue``, whose put and get
    are C calls: a future per slice cost 5-10 ms per GB in synchronisation),
    so the I/O waits for the hash only when it is ``MAX_LAG`` slices ahead;
    the helper is joined, and any error of its hash raised, in :meth:`digest`
    and :meth:`close`.
    """

    def __init__(self, nbytes: int) -> None:
        self._hasher = new_hasher()
        self._queue: queue.SimpleQueue[memoryview | None] | None = None
        self._helper: threading.Thread | None = None
        self._error: BaseException | None = None
        self._room = threading.Semaphore(MAX_LAG)
        #: bytes per slice: what the hash of one reads from the CPU's cache
        self.slice = INLINE_SLICE
        if nbytes >= BACKGROUND_MIN and spare_cpu():
            self.slice = SLICE
            self._queue = queue.SimpleQueue()
            self._helper = threading.Thread(
                target=self._run, name="joblet-persist-checksum", daemon=True
            )
            self._helper.start()

    def _run(self) -> None:
        assert self._queue is not None
        while (piece := self._queue.get()) is not None:
            if self._error is None:  # after an error, only drain until the end
                try:
                    self._hasher.update(piece)
                except BaseException as exc:  # raised again by digest()
                    self._error = exc
            self._room.release()

    def update(self, piece: memoryview) -> None:
        if self._queue is None:
            self._hasher.update(piece)
        else:
            self._room.acquire()
            self._queue.put(piece)

    def digest(self) -> int:
        self.close()
        if self._error is not None:
            raise self._error
        return int(self._hasher.intdigest())

    def close(self) -> None:
        """Wait for the helper: no thread may still read the buffer afterwards."""
        if self._helper is not None and self._queue is not None:
            helper, self._helper = self._helper, None
            self._queue.put(None)
            helper.join()


def hashed_slices(data: memoryview, digests: list[int]) -> Iterator[memoryview]:
    """``data`` in slices, each hashed while it is written; appends the digest."""
    view = memoryview(data).cast("B")
    hasher = _SliceHasher(view.nbytes)
    try:
        for start in range(0, view.nbytes, hasher.slice):
            piece = view[start : start + hasher.slice]
            hasher.update(piece)
            yield piece
        digests.append(hasher.digest())
    finally:
        hasher.close()


def read_hashed(read_into: Callable[[memoryview], Any], view: memoryview) -> int:
    """Fill ``view`` slice by slice with ``read_into``, hashing each slice read.

    A large buffer's slice is hashed on the helper thread while the next one is
    read (still in the CPU's last-level cache); the helper never outlives the
    call, even when a read fails.
    """
    hasher = _SliceHasher(view.nbytes)
    try:
        for start in range(0, view.nbytes, hasher.slice):
            piece = view[start : start + hasher.slice]
            read_into(piece)
            hasher.update(piece)
        return hasher.digest()
    finally:
        hasher.close()


def encode_trailer(digests: list[int]) -> bytes:
    return b"".join(DIGEST.pack(digest) for digest in digests)


def hash_view(view: memoryview) -> int:
    hasher = new_hasher()
    hasher.update(view)
    return int(hasher.intdigest())


def hash_file_range(file: IO[bytes], offset: int, nbytes: int) -> int:
    """The xxh3_64 of ``nbytes`` of ``file`` from ``offset`` (for mapped loads)."""
    hasher = new_hasher()
    file.seek(offset)
    buffer = bytearray(min(SLICE, max(nbytes, 1)))
    remaining = nbytes
    while remaining:
        view = memoryview(buffer)[: min(remaining, len(buffer))]
        n = file.readinto(view)  # type: ignore[attr-defined]
        if not n:
            raise FormatError("the file ends inside a buffer")
        hasher.update(view[:n])
        remaining -= n
    return int(hasher.intdigest())


#: What ``load(mmap_mode='r+')`` writes over every checksum of the file it maps
#: writable (its arrays may then change): the checksums are marked as no longer
#: holding. The mark is this exact pattern in every slot, never a value a
#: damaged file takes by accident: a zeroed trailer is checked, and fails.
UNVERIFIED_MARK = b"JLNOSUM!"


def mark_unverified(path: str, offset: int, count: int) -> None:
    """Write :data:`UNVERIFIED_MARK` over the ``count`` checksums at ``offset``."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        if handle.read(DIGEST.size * count) != UNVERIFIED_MARK * count:
            handle.seek(offset)
            handle.write(UNVERIFIED_MARK * count)


def is_unverified(trailer: bytes, count: int) -> bool:
    """True when ``trailer`` is the mark of a file mapped writable."""
    return count > 0 and trailer == UNVERIFIED_MARK * count


def verify(
    digests: list[int], trailer: bytes, where: str, asked: bool | None = None
) -> None:
    """Compare the digests of the buffers read with those the file records.

    A trailer marked unverified (:func:`mark_unverified`) is skipped, unless
    the caller ``asked`` for verification explicitly (``verify=True``).
    """
    if is_unverified(trailer, len(digests)):
        if asked:
            raise FormatError(
                f"{where} was memory-mapped writable (mmap_mode='r+'), so its "
                "checksums no longer hold and verify=True cannot check it; load it "
                "with verify=None (the default) or verify=False"
            )
        return
    expected = [
        DIGEST.unpack_from(trailer, i * DIGEST.size)[0] for i in range(len(digests))
    ]
    for index, (found, recorded) in enumerate(zip(digests, expected, strict=True)):
        if found != recorded:
            zeroed = (
                " Its recorded checksum is 0: the end of the file was zeroed (as "
                "after a power loss), or the file was memory-mapped writable by "
                "an earlier joblet-persist, which cleared its checksums; in that "
                "case only, load it with verify=False."
                if recorded == 0
                else ""
            )
            raise FormatError(
                f"{where} is corrupted: buffer {index} does not match its checksum "
                "(xxh3). The file was damaged after it was written; dump the data "
                f"again.{zeroed}"
            )
