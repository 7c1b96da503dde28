"""Reading a joblet file's header, table, pickle stream and buffers."""

from __future__ import annotations

import io
import mmap
import pickle
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any

from ._allow_list import AllowList
from ._budget import Budget
from ._checksums import (
    DIGEST,
    hash_file_range,
    hash_view,
    mark_unverified,
    verify,
)
from ._errors import FormatError, TruncatedFileError
from ._format import (
    BUFFER_PERSISTENT_ID,
    CHECKSUM_VERSION,
    HEADER,
    BufferEntry,
    Header,
    align,
    decode_table,
    file_size,
)
from ._io import GROW_MIN, Source, fill_growing
from ._numpy_io import MappedSlot
from ._warnings import warn_not_mapped

if TYPE_CHECKING:
    from ._format_v1 import ChunkReader


@dataclass(frozen=True)
class LoadOptions:
    """What travels with a load from the entry point down to the readers."""

    where: str  # how messages name the file
    path: str | None = None  # for memory mapping; None for file objects
    mmap_mode: str | None = None
    allow: AllowList | None = None  # None: unrestricted
    file_size: int | None = None  # known for paths, to refuse truncated files
    verify: bool | None = None  # checksums: None checks unless memory-mapping
    budget: Budget = field(default_factory=lambda: Budget(None))

    def in_memory(self) -> LoadOptions:
        """The same load, without a path to map (a decompressed stream)."""
        return replace(self, path=None, mmap_mode=None, file_size=None)


def _numpy_for(entry: BufferEntry) -> Any:
    """numpy for an array's buffer (None for other buffers), or the install hint."""
    if entry.kind != "array":
        return None
    try:
        import numpy
    except ImportError:
        raise ImportError(
            "this file holds numpy arrays, and numpy is not installed; "
            "install it with `pip install 'joblet-persist[numpy]'`"
        ) from None
    return numpy


def _allocate(entry: BufferEntry) -> Any:
    numpy = _numpy_for(entry)
    if numpy is not None:
        return numpy.empty(entry.nbytes, dtype=numpy.uint8)  # no zero-fill
    return bytearray(entry.nbytes)


class _InMemoryBuffers:
    """The buffers read one by one as the unpickler asks, each hashed as it arrives.

    :meth:`finish` reads what the unpickler left (buffers, then the checksum
    trailer of format version 2) and compares the checksums.
    """

    def __init__(
        self,
        source: Source,
        header: Header,
        entries: list[BufferEntry],
        chunks: ChunkReader | None,
        verify: bool,
        options: LoadOptions,
    ) -> None:
        self.budget = options.budget
        self.grow = options.file_size is None
        self.source = source
        self.base = align(HEADER.size + header.table_len + header.pickle_len)
        self.entries = entries
        self.chunks = chunks
        self.checksummed = header.version >= CHECKSUM_VERSION
        self.verify = verify and self.checksummed
        self.asked = options.verify
        self.digests: list[int] = []
        self.end = self.base + header.buffers_len if entries else self.source.position
        self._next = 0

    def __iter__(self) -> _InMemoryBuffers:
        return self

    def __next__(self) -> Any:
        if self._next >= len(self.entries):
            raise StopIteration
        index, entry = self._next, self.entries[self._next]
        self._next += 1
        self.budget.charge(entry.nbytes, f"buffer {index} ({entry.kind})")
        if self.grow and entry.nbytes > GROW_MIN:
            return self._grown(index, entry)
        buffer = _allocate(entry)
        view = memoryview(buffer).cast("B")
        if self.chunks is not None:
            self.chunks.fill(view, f"buffer {index}")
            return buffer
        self.source.skip_to(self.base + entry.offset)
        digest = self.source.read_buffer(view, hashed=self.verify)
        if digest is not None:
            self.digests.append(digest)
        return buffer

    def _grown(self, index: int, entry: BufferEntry) -> Any:
        """A buffer of an input of unknown size, grown as its data arrives.

        The size a damaged or malicious stream declares is never allocated up
        front: memory follows the data actually read.
        """
        what = f"buffer {index}"
        numpy = _numpy_for(entry)
        if self.chunks is not None:
            chunks = self.chunks
            return fill_growing(
                entry.nbytes,
                lambda view: chunks.fill(view, what),
                chunks.chunk_size,
                numpy=numpy,
            )
        self.source.skip_to(self.base + entry.offset)
        buffer = fill_growing(entry.nbytes, self.source.read_into, numpy=numpy)
        if self.verify:
            self.digests.append(hash_view(memoryview(buffer)))
        return buffer

    def finish(self) -> None:
        for _ in self:  # buffers the pickle stream did not use
            pass
        if not self.checksummed or not self.entries:
            return
        self.source.skip_to(self.end)
        trailer = self.source.read_exact(
            DIGEST.size * len(self.entries), "the buffer checksums"
        )
        if self.verify:
            verify(self.digests, trailer, self.source.where, self.asked)


def _buffers_mapped(
    path: str, header: Header, entries: list[BufferEntry], mode: str
) -> Iterator[Any]:
    base = align(HEADER.size + header.table_len + header.pickle_len)
    file_map: mmap.mmap | None = None
    access = {"r": mmap.ACCESS_READ, "r+": mmap.ACCESS_WRITE, "c": mmap.ACCESS_COPY}[
        mode
    ]
    for entry in entries:
        offset = base + entry.offset
        if entry.kind == "array":
            yield MappedSlot(path, offset, entry.nbytes, mode)
            continue
        if file_map is None:
            with open(path, "r+b" if mode == "r+" else "rb") as handle:
                file_map = mmap.mmap(handle.fileno(), 0, access=access)
        yield memoryview(file_map)[offset : offset + entry.nbytes]


def _verify_mapped(
    path: str, header: Header, entries: list[BufferEntry], where: str
) -> None:
    """Check a mapped file's buffers against its checksums (reads every page)."""
    if header.version < CHECKSUM_VERSION or not entries:
        return
    base = align(HEADER.size + header.table_len + header.pickle_len)
    with open(path, "rb") as handle:
        digests = [
            hash_file_range(handle, base + entry.offset, entry.nbytes)
            for entry in entries
        ]
        handle.seek(base + header.buffers_len)
        trailer = handle.read(DIGEST.size * len(entries))
    if len(trailer) != DIGEST.size * len(entries):
        raise TruncatedFileError(f"{where} is truncated inside its checksums")
    verify(digests, trailer, where, asked=True)


def _check_size(
    header: Header, entries: list[BufferEntry], options: LoadOptions
) -> None:
    if options.file_size is None:
        return
    expected = file_size(header, len(entries))
    if options.file_size < expected:
        raise TruncatedFileError(
            f"{options.where} is truncated: it has {options.file_size} bytes, its "
            f"header announces {expected}. Dump the data again."
        )


def _check_entries(entries: list[BufferEntry], header: Header, where: str) -> None:
    if header.compressed:
        consistent = sum(entry.nbytes for entry in entries) == header.buffers_len
    else:
        end = max((entry.offset + entry.nbytes for entry in entries), default=0)
        consistent = end == header.buffers_len
    if not consistent:
        raise FormatError(
            f"{where} is corrupted: its buffer table disagrees with its header"
        )


class _Unpickler(pickle.Unpickler):
    """The C unpickler, given the file's buffers (and its persistent ids below protocol 5)."""

    def __init__(self, stream: IO[bytes], buffers: Iterator[Any], where: str) -> None:
        super().__init__(stream, buffers=buffers)
        self._buffers = buffers
        self._where = where

    def persistent_load(self, pid: Any) -> Any:
        if pid != BUFFER_PERSISTENT_ID:
            raise FormatError(f"{self._where} is corrupted: unknown persistent id")
        try:
            return next(self._buffers)
        except StopIteration:
            raise FormatError(
                f"{self._where} is corrupted: it uses more buffers than its table lists"
            ) from None

    def find_class(self, module: str, name: str) -> Any:
        from ._joblib_reader import find_class_or_format_error

        return find_class_or_format_error(super().find_class, module, name, self._where)


def _unpickle(
    pickled: bytes | bytearray, buffers: Iterator[Any], options: LoadOptions
) -> Any:
    stream = io.BytesIO(pickled)
    if options.allow is not None:
        from ._walk import Walk

        walk = Walk(
            stream, options.where, options.budget, options.allow, buffers=buffers
        )
        return walk.run()
    return _Unpickler(stream, buffers, options.where).load()


def read_container(file: IO[bytes], options: LoadOptions) -> Any:
    """Load the joblet file starting at the current position of ``file``.

    Reads exactly the file's own bytes (an uncompressed file ends with its last
    buffer), so several dumps in one stream load one after the other.
    """
    where = options.where
    source = Source(file, where)
    header = Header.unpack(source.read_upto(HEADER.size), where)
    table = source.read_exact(header.table_len, "the buffer table")
    chunks = None
    mmap_mode = options.mmap_mode
    if header.compressed:  # format version 1: joblet's own chunked container
        from ._format_v1 import ChunkReader

        chunks = ChunkReader(source, header.codec, header.chunk_size)
        if mmap_mode is not None:
            warn_not_mapped(mmap_mode, where, header.codec)
            mmap_mode = None
    try:
        options.budget.charge(header.pickle_len, "the pickle stream")
        if chunks is not None:
            pickled: bytes | bytearray = chunks.read_growing(
                header.pickle_len, "the pickle stream"
            )
        else:
            pickled = source.read_exact(header.pickle_len, "the pickle stream")
        if zlib.crc32(pickled, zlib.crc32(table)) != header.crc:
            raise FormatError(
                f"{where} is corrupted: the checksum of its table and pickle stream does "
                "not match. Dump the data again."
            )
        entries = decode_table(table, where)
        _check_entries(entries, header, where)
        if not header.compressed:
            _check_size(header, entries, options)
        if mmap_mode is not None and options.path is not None:
            if options.verify:
                _verify_mapped(options.path, header, entries, where)
            mode = "r+" if mmap_mode == "w+" else mmap_mode
            if mode == "r+" and entries and header.version >= CHECKSUM_VERSION:
                # the arrays may now change in place: their checksums no longer hold
                end = align(HEADER.size + header.table_len + header.pickle_len)
                mark_unverified(options.path, end + header.buffers_len, len(entries))
            mapped = _buffers_mapped(options.path, header, entries, mode)
            return _unpickle(pickled, mapped, options)
        buffers = _InMemoryBuffers(
            source, header, entries, chunks, options.verify is not False, options
        )
        value = _unpickle(pickled, buffers, options)
        buffers.finish()
        return value
    except (MemoryError, OverflowError) as exc:
        raise FormatError(
            f"{where} is corrupted: it announces sizes that cannot be allocated ({exc!r})"
        ) from exc
    finally:
        if chunks is not None:
            chunks.close()
