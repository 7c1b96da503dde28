"""Per-buffer xxh3 checksums: computed while writing, verified while reading.

Format version 2 files end with one little-endian ``u64`` xxh3_64 per buffer,
right after the last buffer. Each buffer is hashed in slices of ``SLICE`` bytes,
in the same pass as the write or the read, while the slice is in the CPU cache.
A dump hashes a buffer of ``BACKGROUND_MIN`` bytes or more on a helper thread
(xxhash releases the GIL) alongside the write of the same slice; a load hashes
each slice inline, just after the kernel copied it into the array.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from ._errors import FormatError

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

SLICE = 1 << 22
BACKGROUND_MIN = 1 << 24  # buffers this large are hashed on a helper thread
DIGEST = struct.Struct("<Q")  # CHECKSUM_SIZE bytes


def _hasher() -> Any:
    import xxhash

    return xxhash.xxh3_64()


class _SliceHasher:
    """One xxh3_64 fed slice by slice, inline or on a helper thread.

    At most one slice is pending on the helper, so the hash trails the I/O by
    one slice (still in cache) and an error in either surfaces at once.
    """

    def __init__(self, nbytes: int) -> None:
        self._hasher = _hasher()
        self._helper: ThreadPoolExecutor | None = None
        if nbytes >= BACKGROUND_MIN:
            from concurrent.futures import ThreadPoolExecutor

            self._helper = ThreadPoolExecutor(
                1, thread_name_prefix="joblet-persist-checksum"
            )
        self._pending: Future[None] | None = None

    def update(self, piece: memoryview) -> None:
        if self._helper is None:
            self._hasher.update(piece)
            return
        self._wait()
        self._pending = self._helper.submit(self._hasher.update, piece)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def digest(self) -> int:
        self._wait()
        return int(self._hasher.intdigest())

    def close(self) -> None:
        if self._helper is not None:
            self._helper.shutdown(wait=True)  # never leave a thread on the buffer


def hashed_slices(data: memoryview, digests: list[int]) -> Iterator[memoryview]:
    """``data`` in slices, each hashed while it is written; appends the digest."""
    view = memoryview(data).cast("B")
    hasher = _SliceHasher(view.nbytes)
    try:
        for start in range(0, view.nbytes, SLICE):
            piece = view[start : start + SLICE]
            hasher.update(piece)
            yield piece
        digests.append(hasher.digest())
    finally:
        hasher.close()


def read_hashed(read_into: Callable[[memoryview], Any], view: memoryview) -> int:
    """Fill ``view`` slice by slice with ``read_into``, hashing each slice read.

    Inline: the slice the kernel just copied is hashed from the cache; a helper
    thread measured slower here (it waits on each slice's read).
    """
    hasher = _hasher()
    for start in range(0, view.nbytes, SLICE):
        piece = view[start : start + SLICE]
        read_into(piece)
        hasher.update(piece)
    return int(hasher.intdigest())


def encode_trailer(digests: list[int]) -> bytes:
    return b"".join(DIGEST.pack(digest) for digest in digests)


def hash_view(view: memoryview) -> int:
    hasher = _hasher()
    hasher.update(view)
    return int(hasher.intdigest())


def hash_file_range(file: IO[bytes], offset: int, nbytes: int) -> int:
    """The xxh3_64 of ``nbytes`` of ``file`` from ``offset`` (for mapped loads)."""
    hasher = _hasher()
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
