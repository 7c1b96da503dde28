"""Reading exact byte counts from files and streams, never past what was asked.

Every read is bounded: a damaged length field makes a read fail when the data
ends, it never allocates what the field claims up front.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from types import ModuleType
from typing import Any, overload

from . import _split_read
from ._checksums import read_hashed
from ._errors import FormatError, TruncatedFileError, truncated_array
from ._types import ReadableStream

READ_STEP = 1 << 24
READ_SLICE = 1 << 26
# An unbuffered file's readinto() copies straight into the array: one call of up
# to 1 GiB (Linux caps a read at 2 GiB - 4 KiB) instead of 16 of 64 MiB. Other
# streams (GzipFile ...) may allocate what they are asked for, so they get 64 MiB.
RAW_READ_SLICE = 1 << 30
#: A buffer of an input of unknown size (a compressed stream, a file object)
#: larger than this is grown as its data arrives, this many bytes at a time.
GROW_MIN = 1 << 26
FIRST_PIECE = 1 << 20


def read_exact_into(file: ReadableStream, view: memoryview, where: str) -> None:
    """Fill ``view`` from ``file`` or raise TruncatedFileError."""
    filled = 0
    total = view.nbytes
    step = RAW_READ_SLICE if isinstance(file, io.FileIO) else READ_SLICE
    readinto = getattr(file, "readinto", None)
    while filled < total:
        part = view[filled : min(total, filled + step)]
        if readinto is not None:
            n = readinto(part)
        else:
            data = file.read(part.nbytes)
            n = len(data)
            part[:n] = data
        if not n:
            raise truncated_array(where, total - filled)
        filled += n


@overload
def fill_growing(
    total: int, fill: Callable[[memoryview], Any], unit: int = 1, numpy: None = None
) -> bytearray: ...


@overload
def fill_growing(
    total: int, fill: Callable[[memoryview], Any], unit: int = 1, *, numpy: ModuleType
) -> Any: ...


def fill_growing(
    total: int,
    fill: Callable[[memoryview], Any],
    unit: int = 1,
    numpy: ModuleType | None = None,
) -> Any:
    """A ``total``-byte buffer filled by ``fill(view)`` piece by piece, growing.

    For inputs of unknown size: memory follows the data actually read. Pieces
    start at ``FIRST_PIECE`` bytes and double up to ``GROW_MIN``, each a
    multiple of ``unit``; a stream declaring far more than it holds fails
    (``fill`` raises at its end) after allocating at most twice what it held,
    plus one first piece.

    A ``bytearray``, or with ``numpy`` (the module) a ``uint8`` array: that one
    grows by ``ndarray.resize`` (a ``realloc``, which moves a large block by
    remapping its pages, and zeroes only the new piece), where a bytearray
    grows by a zero-filled temporary copied in: 94 against 146 ms for 100 MB.
    """
    out: Any = bytearray() if numpy is None else numpy.empty(0, dtype=numpy.uint8)
    done = 0
    piece = max(unit, FIRST_PIECE // unit * unit)
    largest = max(unit, GROW_MIN // unit * unit)
    while done < total:
        n = min(piece, total - done)
        if numpy is None:
            out.extend(bytes(n))
        else:
            out.resize(done + n, refcheck=False)  # no view of it is alive here
        with memoryview(out) as whole, whole[done : done + n] as part:
            fill(part)
        done += n
        piece = min(2 * piece, largest)
    return out


def read_upto(file: ReadableStream, n: int) -> bytes:
    """Up to ``n`` bytes: fewer only at the end of the data (short reads retried)."""
    data = file.read(n)
    if data is None or len(data) == n or not data:
        return data or b""
    parts = [data]
    got = len(data)
    while got < n:
        more = file.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class Source:
    """Sequential reads from a file, tracking the position; exact or truncated."""

    def __init__(self, file: ReadableStream, where: str, position: int = 0) -> None:
        self.file = file
        self.where = where
        self.position = position

    def read_exact(self, n: int, what: str) -> bytes:
        chunks = []
        remaining = n
        while remaining:
            # bounded reads: a damaged length never allocates more than is there
            data = self.file.read(min(remaining, READ_STEP))
            if not data:
                raise TruncatedFileError(
                    f"{self.where} is truncated: it ends inside {what} "
                    f"({n - remaining} of {n} bytes). Dump the data again."
                )
            chunks.append(data)
            remaining -= len(data)
        self.position += n
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def read_upto(self, n: int) -> bytes:
        data = read_upto(self.file, n)
        self.position += len(data)
        return data

    def read_into(self, view: memoryview) -> None:
        read_exact_into(self.file, view, self.where)
        self.position += view.nbytes

    def read_buffer(self, view: memoryview, hashed: bool) -> int | None:
        """Fill ``view`` with the next bytes; their xxh3_64 when ``hashed``.

        A large buffer of a file with a descriptor is read by two threads when
        a CPU is free (see :mod:`._split_read`), else slice by slice.
        """
        split = _split_read.split_reader(self.file, view, self.where, hashed)
        if split is not None:
            digest = split.run()
            self.position += view.nbytes
            return digest
        if hashed:
            return read_hashed(self.read_into, view)
        self.read_into(view)
        return None

    def skip_to(self, position: int) -> None:
        if position < self.position:
            raise FormatError(f"{self.where} is corrupted: buffers overlap")
        if position > self.position:
            self.read_exact(position - self.position, "padding")


class Prepended(io.RawIOBase):
    """A read-only stream: ``head`` then the rest of ``file`` (for unseekable files).

    Reads never ask ``file`` for more than the caller asked for, so a stream that
    stays open (a socket) is read exactly as far as needed.
    """

    def __init__(self, head: bytes, file: ReadableStream) -> None:
        super().__init__()
        self._head = head
        self._file = file

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` (short only at the end of the stream)."""
        view = memoryview(buffer).cast("B")
        filled = 0
        if self._head:
            filled = min(len(self._head), view.nbytes)
            view[:filled] = self._head[:filled]
            self._head = self._head[filled:]
        readinto = getattr(self._file, "readinto", None)
        while filled < view.nbytes:
            if readinto is not None:
                n = int(readinto(view[filled:]) or 0)
            else:
                data = self._file.read(view.nbytes - filled)
                n = len(data)
                view[filled : filled + n] = data
            if not n:
                break
            filled += n
        return filled
