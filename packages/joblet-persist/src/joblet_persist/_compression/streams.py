"""Standard compressed streams written and read in independent blocks, on threads.

A compressed ``dump`` is the uncompressed joblet file passed through a
:class:`BlockFormat`: the raw bytes are cut into blocks, each block is
compressed on its own (on several threads: zlib, bz2, lzma, lz4 and zstd
release the GIL) into a unit that the format's standard decoders accept in
sequence (gzip members, lz4 or zstd frames, bz2 streams, xz blocks, full-flushed
deflate chunks), and the format's framing goes around them.

Reading walks the units from their metadata (member extra fields, frame
headers; for bz2 and zlib, guessed boundaries that decoding confirms) without
decompressing, and decompresses them in parallel, each bounded by the raw size
it declares. A stream whose units say nothing of their sizes (one written by
another tool) is handed over to the format's sequential decoder from that
point on.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from .._error_mapping import CODEC_ERRORS, codec_error
from .._io import Prepended, Source
from .._threads import ordered_map, thread_count


@dataclass
class Encoded:
    """One compressed unit: its bytes, the raw size it holds and a checksum."""

    data: bytes
    raw_size: int
    check: int = 0


@dataclass
class Written:
    """What the trailer needs of a unit already written: sizes and checksum."""

    stored: int
    raw_size: int
    check: int


@dataclass
class Unit:
    """A unit found while reading: its stored bytes and the raw size it declares.

    ``raw`` marks a unit stored uncompressed (its data is the output itself).
    """

    data: bytes
    raw_size: int
    raw: bool = False


class NotOneUnit(Exception):
    """A guessed unit is not exactly one complete unit: decode sequentially.

    Raised by :meth:`BlockFormat.decode` for units found by guessing their
    boundaries (bz2 streams, which record no sizes); the reader then decodes
    from the start of that unit with the format's sequential decoder, which
    also reports any real damage.
    """


@dataclass
class Handover:
    """From here on the stream must be decoded sequentially; ``head`` was read."""

    head: bytes


class BlockFormat:
    """How one compressed format is written and read in independent blocks.

    Subclasses set ``name`` and ``block_size`` and implement :meth:`encode`
    and :meth:`decode` (called on worker threads) and :meth:`walk`; ``header``
    and ``trailer`` frame the stream where the format needs it, and
    :meth:`decoded` and :meth:`finish` check what spans units (zlib's one
    Adler-32).
    """

    name = ""
    block_size = 1 << 20

    def __init__(self, level: int) -> None:
        self.level = level

    def header(self, total: int) -> bytes:
        return b""

    def encode(self, block: memoryview, last: bool) -> Encoded:
        raise NotImplementedError

    def trailer(self, units: list[Written]) -> bytes:
        return b""

    def walk(self, source: Source) -> Iterator[Unit | Handover]:
        """The units of the stream in order; a Handover when sizes are unknown."""
        head = source.read_upto(64)
        yield Handover(head)

    def decode(self, unit: Unit) -> bytes:
        raise NotImplementedError

    def decoded(self, unit: Unit, data: bytes) -> None:
        """Called in stream order with each unit's output (checks across units)."""

    def finish(self) -> None:
        """Called when the walk ended without a handover: check the stream's end."""

    def sequential(self, file: IO[bytes]) -> IO[bytes]:
        """A standard-library decoder reading the stream from ``file``."""
        raise NotImplementedError

    def unread(self) -> bytes:
        """Bytes :meth:`walk` read past its last unit (those it guesses from)."""
        return b""


def chunked(pieces: Iterable[memoryview | bytes], size: int) -> Iterator[memoryview]:
    """Cut a sequence of byte pieces into blocks of ``size`` (the last shorter).

    Large pieces are sliced, not copied; only blocks straddling pieces are
    assembled in a small buffer.
    """
    pending = bytearray()
    for piece in pieces:
        view = memoryview(piece).cast("B")
        if pending:
            take = min(size - len(pending), view.nbytes)
            pending += view[:take]
            view = view[take:]
            if len(pending) < size:
                continue
            yield memoryview(bytes(pending))
            pending = bytearray()
        full = view.nbytes - view.nbytes % size
        for start in range(0, full, size):
            yield view[start : start + size]
        pending += view[full:]
    if pending:
        yield memoryview(bytes(pending))


def write_stream(
    file: IO[bytes],
    pieces: Iterable[memoryview | bytes],
    total: int,
    block_format: BlockFormat,
    write: Any,
) -> None:
    """Compress ``pieces`` (``total`` raw bytes) into ``file`` with ``block_format``."""
    size = block_format.block_size
    count = max(1, -(-total // size))
    blocks = enumerate(chunked(pieces, size))
    threads = thread_count() if count > 1 else 1

    def encode(item: tuple[int, memoryview]) -> Encoded:
        index, block = item
        return block_format.encode(block, index == count - 1)

    write(file, block_format.header(total))
    units: list[Written] = []
    pool = (
        ThreadPoolExecutor(threads, thread_name_prefix="joblet-persist")
        if threads > 1
        else None
    )
    try:
        for encoded in ordered_map(encode, blocks, threads, pool):
            write(file, encoded.data)
            units.append(Written(len(encoded.data), encoded.raw_size, encoded.check))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    write(file, block_format.trailer(units))


class DecodedStream(io.RawIOBase):
    """The decompressed bytes of a stream, decoded unit by unit on threads."""

    def __init__(self, file: IO[bytes], block_format: BlockFormat, where: str) -> None:
        super().__init__()
        self._source = Source(file, where)
        self._format = block_format
        self._where = where
        self._current = memoryview(b"")
        self._threads = thread_count()
        self._pool: ThreadPoolExecutor | None = None
        self._sequential: IO[bytes] | None = None
        self._handover: Handover | None = None
        self._in_flight: deque[Unit] = deque()  # walked, not yet returned
        self._decoded = self._decode_all()

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        super().close()

    def _units(self) -> Iterator[Unit]:
        for item in self._format.walk(self._source):
            if isinstance(item, Handover):
                self._handover = item
                return
            self._in_flight.append(item)
            yield item

    def _decode(self, unit: Unit) -> bytes:
        return unit.data if unit.raw else self._format.decode(unit)

    def _decode_all(self) -> Iterator[bytes]:
        if self._threads > 1:
            self._pool = ThreadPoolExecutor(
                self._threads, thread_name_prefix="joblet-persist"
            )
        try:
            for data in ordered_map(
                self._decode, self._units(), self._threads, self._pool
            ):
                self._format.decoded(self._in_flight.popleft(), data)
                yield data
        except NotOneUnit:
            # the units from the first misguessed one on, then what the walk
            # read past them, go to the sequential decoder
            head = b"".join(unit.data for unit in self._in_flight)
            self._in_flight.clear()
            self._handover = Handover(head + self._format.unread())
        if self._handover is None:
            self._format.finish()
        else:
            rest = io.BufferedReader(Prepended(self._handover.head, self._source.file))
            self._sequential = self._format.sequential(rest)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._current:
            if self._sequential is not None:
                return self._read_sequential(view)
            try:
                self._current = memoryview(next(self._decoded))
            except StopIteration:
                if self._sequential is None:
                    return 0
            except CODEC_ERRORS as exc:
                # what the walk, a decode or a check across units found
                raise codec_error(exc, self._where, self._format.name) from exc
        n = min(view.nbytes, self._current.nbytes)
        view[:n] = self._current[:n]
        self._current = self._current[n:]
        return n

    def _read_sequential(self, view: memoryview) -> int:
        assert self._sequential is not None
        try:
            return int(self._sequential.readinto(view))  # type: ignore[attr-defined]
        except CODEC_ERRORS as exc:
            raise codec_error(exc, self._where, self._format.name) from exc
