"""Per-buffer xxh3 checksums: computed while writing, verified while reading.

Format version 2 files end with one little-endian ``u64`` xxh3_64 per buffer,
right after the last buffer. Each buffer is hashed in slices of ``SLICE`` bytes
just before the slice is written (or just after it is read), while the slice is
still in the CPU cache, so the check costs little more than the copy itself.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import IO, Any

from ._errors import FormatError

SLICE = 1 << 22
#: A recorded checksum of 0 means "not known": ``load(mmap_mode='r+')`` clears
#: the checksums of the file it maps writable, since its arrays may then change.
CLEARED = 0
DIGEST = struct.Struct("<Q")  # CHECKSUM_SIZE bytes


def _hasher() -> Any:
    import xxhash

    return xxhash.xxh3_64()


def hashed_slices(data: memoryview, digests: list[int]) -> Iterator[memoryview]:
    """``data`` in slices, each hashed as it is handed out; appends the digest."""
    view = memoryview(data).cast("B")
    hasher = _hasher()
    for start in range(0, view.nbytes, SLICE):
        piece = view[start : start + SLICE]
        hasher.update(piece)
        yield piece
    digests.append(hasher.intdigest())


def encode_trailer(digests: list[int]) -> bytes:
    return b"".join(DIGEST.pack(digest) for digest in digests)


def read_hashed(read_into: Any, view: memoryview) -> int:
    """Fill ``view`` slice by slice with ``read_into``, hashing each slice read."""
    hasher = _hasher()
    for start in range(0, view.nbytes, SLICE):
        piece = view[start : start + SLICE]
        read_into(piece)
        hasher.update(piece)
    return int(hasher.intdigest())


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


def clear_trailer(path: str, offset: int, count: int) -> None:
    """Mark the ``count`` checksums at ``offset`` of ``path`` as not known."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        if handle.read(DIGEST.size * count) != bytes(DIGEST.size * count):
            handle.seek(offset)
            handle.write(bytes(DIGEST.size * count))


def verify(digests: list[int], trailer: bytes, where: str) -> None:
    """Compare the digests of the buffers read with those the file records."""
    expected = [
        DIGEST.unpack_from(trailer, i * DIGEST.size)[0] for i in range(len(digests))
    ]
    for index, (found, recorded) in enumerate(zip(digests, expected, strict=True)):
        if recorded != CLEARED and found != recorded:
            raise FormatError(
                f"{where} is corrupted: buffer {index} does not match its checksum "
                "(xxh3). The file was damaged after it was written; dump the data "
                "again."
            )
