"""``load``: recognise the file by its first bytes, then read it.

joblet containers (our magic), whole-stream compressed files (a compressor's
magic: joblib's compressed files, or anything written through a ``GzipFile``),
and plain pickle streams (joblib's uncompressed files among them) are told apart
by their magic bytes only, never by the file name.
"""

from __future__ import annotations

import io
import lzma
import mmap
import os
import pickle
import warnings
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from ._compressors import CompressorWrapper, compressor_for_prefix, get_compressor
from ._errors import FormatError, TruncatedFileError
from ._format import (
    CHUNK_PREFIX,
    HEADER,
    MAGIC,
    BufferEntry,
    Header,
    align,
    decode_table,
)
from ._joblib_reader import load_pickle_stream, read_exact_into
from ._numpy_io import MappedSlot
from ._restricted import AllowList, RestrictedUnpickler, make_allow_list
from ._threads import ordered_map, thread_count
from ._types import MMAP_MODES

READ_STEP = 1 << 24
PICKLE_PROTO = 0x80
# Errors codecs raise on damaged data; they become FormatError.
CODEC_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
)


class _Source:
    """Sequential reads from the container, tracking the position."""

    def __init__(self, file: IO[bytes], where: str) -> None:
        self.file = file
        self.where = where
        self.position = 0

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

    def read_into(self, view: memoryview) -> None:
        read_exact_into(self.file, view, self.where)
        self.position += view.nbytes

    def skip_to(self, position: int) -> None:
        if position < self.position:
            raise FormatError(f"{self.where} is corrupted: buffers overlap")
        if position > self.position:
            self.read_exact(position - self.position, "padding")


def _allocate(entry: BufferEntry) -> Any:
    if entry.kind == "array":
        try:
            import numpy
        except ImportError:
            raise ImportError(
                "this file holds numpy arrays, and numpy is not installed; "
                "install it with `pip install 'joblet-persist[numpy]'`"
            ) from None
        return numpy.empty(entry.nbytes, dtype=numpy.uint8)  # no zero-fill
    return bytearray(entry.nbytes)


class _ChunkReader:
    """Decompress length-prefixed chunks into a buffer, on several threads."""

    def __init__(
        self, source: _Source, compressor: CompressorWrapper, chunk_size: int
    ) -> None:
        self.source = source
        self.compressor = compressor
        self.chunk_size = chunk_size
        self.threads = thread_count() if compressor.releases_gil else 1
        self.pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def fill(self, view: memoryview, what: str) -> None:
        total = view.nbytes
        starts = range(0, total, self.chunk_size)
        if len(starts) > 1 and self.threads > 1 and self.pool is None:
            self.pool = ThreadPoolExecutor(
                self.threads, thread_name_prefix="joblet-persist"
            )
        where = self.source.where

        def stored_chunks() -> Iterator[tuple[int, bytes]]:
            for start in starts:
                (length,) = CHUNK_PREFIX.unpack(
                    self.source.read_exact(CHUNK_PREFIX.size, what)
                )
                yield start, self.source.read_exact(length, what)

        def decompress(item: tuple[int, bytes]) -> None:
            start, stored = item
            size = min(self.chunk_size, total - start)
            try:
                raw = self.compressor.decompress_chunk(stored, size)
            except CODEC_ERRORS as exc:
                raise FormatError(
                    f"{where} is corrupted: a compressed chunk of {what} does not "
                    f"decompress ({type(exc).__name__}: {exc})"
                ) from exc
            if len(raw) != size:
                raise FormatError(
                    f"{where} is corrupted: a chunk of {what} decompressed to "
                    f"{len(raw)} bytes instead of {size}"
                )
            view[start : start + size] = raw

        for _ in ordered_map(decompress, stored_chunks(), self.threads, self.pool):
            pass


def _buffers_in_memory(
    source: _Source,
    header: Header,
    entries: list[BufferEntry],
    chunks: _ChunkReader | None,
) -> Iterator[Any]:
    base = align(HEADER.size + header.table_len + header.pickle_len)
    for index, entry in enumerate(entries):
        buffer = _allocate(entry)
        view = memoryview(buffer).cast("B")
        if chunks is not None:
            chunks.fill(view, f"buffer {index}")
        else:
            source.skip_to(base + entry.offset)
            source.read_into(view)
        yield buffer


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


def _read_container(
    file: IO[bytes],
    where: str,
    path: str | None,
    mmap_mode: str | None,
    allow: AllowList | None,
    file_size: int | None,
) -> Any:
    source = _Source(file, where)
    head = file.read(HEADER.size)
    source.position = len(head)
    header = Header.unpack(head, where)
    table = source.read_exact(header.table_len, "the buffer table")
    compressor = None
    chunks = None
    if header.compressed:
        compressor = get_compressor(header.codec, where)
        chunks = _ChunkReader(source, compressor, header.chunk_size)
        if mmap_mode is not None:
            warnings.warn(
                f"mmap_mode={mmap_mode!r} has no effect on {where}: it is compressed "
                f"({header.codec}), so its arrays are loaded in memory. Dump it without "
                "compress to memory-map it.",
                stacklevel=3,
            )
            mmap_mode = None
    elif file_size is not None:
        expected = HEADER.size + header.table_len + header.pickle_len
        if header.buffers_len:
            expected = align(expected) + header.buffers_len
        if file_size < expected:
            raise TruncatedFileError(
                f"{where} is truncated: it has {file_size} bytes, its header announces "
                f"{expected}. Dump the data again."
            )
    try:
        if chunks is not None:
            pickled = bytearray(header.pickle_len)
            chunks.fill(memoryview(pickled), "the pickle stream")
        else:
            pickled = source.read_exact(header.pickle_len, "the pickle stream")  # type: ignore[assignment]
        if zlib.crc32(pickled, zlib.crc32(table)) != header.crc:
            raise FormatError(
                f"{where} is corrupted: the checksum of its table and pickle stream does "
                "not match. Dump the data again."
            )
        entries = decode_table(table, where)
        _check_entries(entries, header, where)
        buffers: Iterable[Any]
        if mmap_mode is not None and path is not None:
            buffers = _buffers_mapped(
                path, header, entries, "r+" if mmap_mode == "w+" else mmap_mode
            )
        else:
            buffers = _buffers_in_memory(source, header, entries, chunks)
        stream = io.BytesIO(pickled)
        if allow is None:
            return pickle.Unpickler(stream, buffers=buffers).load()
        return RestrictedUnpickler(stream, allow, buffers=buffers).load()
    except (MemoryError, OverflowError) as exc:
        raise FormatError(
            f"{where} is corrupted: it announces sizes that cannot be allocated ({exc!r})"
        ) from exc
    finally:
        if chunks is not None:
            chunks.close()


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


class _Prepended(io.RawIOBase):
    """A read-only stream: ``head`` then the rest of ``file`` (for unseekable files)."""

    def __init__(self, head: bytes, file: IO[bytes]) -> None:
        super().__init__()
        self._head = head
        self._file = file

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(self._head), view.nbytes)
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        readinto = getattr(self._file, "readinto", None)
        if readinto is not None:
            return int(readinto(view))
        data = self._file.read(view.nbytes)
        view[: len(data)] = data
        return len(data)


def _dispatch(
    file: IO[bytes],
    head: bytes,
    where: str,
    path: str | None,
    mmap_mode: str | None,
    allow: AllowList | None,
    file_size: int | None,
) -> Any:
    """Read ``file`` (positioned at its start; ``head`` its first bytes)."""
    if not head:
        raise FormatError(
            f"{where} is empty (0 bytes): nothing was dumped there, or the write was "
            "interrupted before it began. Dump the data again."
        )
    if head.startswith(MAGIC):
        return _read_container(file, where, path, mmap_mode, allow, file_size)
    if MAGIC.startswith(head):
        raise TruncatedFileError(
            f"{where} is truncated inside its header. Dump the data again."
        )
    found = compressor_for_prefix(head)
    if found is not None:
        name, compressor = found
        if mmap_mode is not None:
            warnings.warn(
                f"mmap_mode={mmap_mode!r} has no effect on {where}: it is compressed "
                f"({name}), so its arrays are loaded in memory.",
                stacklevel=3,
            )
        missing = compressor.available()
        if missing is not None:
            raise ValueError(f"{where} is compressed with {name}: {missing}")
        try:
            with compressor.decompressor_file(file) as inner:
                inner_head = inner.read(len(MAGIC))
                stream = io.BufferedReader(_Prepended(inner_head, inner))
                return _dispatch(stream, inner_head, where, None, None, allow, None)
        except (FormatError, ImportError, pickle.UnpicklingError):
            raise
        except CODEC_ERRORS as exc:
            if isinstance(exc, (EOFError,)):
                raise TruncatedFileError(
                    f"{where} is truncated: its {name} stream ends early ({exc}). "
                    "Dump the data again."
                ) from exc
            raise FormatError(
                f"{where} starts like a {name} file but does not decompress "
                f"({type(exc).__name__}: {exc})"
            ) from exc
    if head[0] == PICKLE_PROTO:
        return load_pickle_stream(file, where, path, mmap_mode, allow)
    raise FormatError(
        f"{where} is not a joblet-persist, joblib or pickle file: it starts with "
        f"{head[:8]!r}. Was it written by joblet_persist.dump, joblib.dump or pickle.dump?"
    )


def load(
    filename: str | os.PathLike[str] | IO[bytes],
    mmap_mode: str | None = None,
    *,
    allowed_globals: Iterable[Any] | None = None,
) -> Any:
    """Reconstruct a Python object from a file persisted with :func:`dump`.

    Also reads files written by ``joblib.dump`` (joblib >= 0.10, any compressor)
    and plain pickle files. The format and the compressor are recognised from
    the file's first bytes, never from its name.

    Parameters
    ----------
    filename : str, os.PathLike or binary file object
        The path of the file, or a binary file object open for reading
        (``open(..., 'rb')``, ``gzip.GzipFile``, ``io.BytesIO`` ...).
    mmap_mode : {None, 'r', 'r+', 'c', 'w+'}, optional
        Memory-map the arrays instead of reading them: they come back as
        ``numpy.memmap`` backed by the file (``'w+'`` acts as ``'r+'``, the file
        is never truncated). Needs a path and an uncompressed file; on a
        compressed file the arrays are loaded in memory with a warning.
    allowed_globals : iterable of str, class or function, optional
        None (default): like pickle, the file may import any global, which runs
        code: only load files you trust. Otherwise a restricted load imports
        only :data:`DEFAULT_ALLOWED_GLOBALS` plus these (``"module.qualname"``
        strings, ``"module.*"``, or the objects themselves) and raises
        :class:`UnsafeGlobalError` naming any other; pass ``()`` for the
        defaults alone.

    Returns
    -------
    object
        The object stored in the file.

    Raises
    ------
    FormatError
        Empty, corrupted or foreign file (:class:`TruncatedFileError` when cut
        short, :class:`UnsupportedVersionError` when written by a newer release).
    UnsafeGlobalError
        A restricted load met a global outside the allow-list.
    ValueError
        Invalid ``mmap_mode``, or ``mmap_mode`` with a file object.
    """
    if mmap_mode not in MMAP_MODES:
        raise ValueError(
            f"invalid mmap_mode {mmap_mode!r}: expected None, 'r', 'r+', 'c' or 'w+' "
            "(the modes of numpy.memmap)"
        )
    allow = make_allow_list(allowed_globals)
    if not isinstance(filename, (str, bytes, os.PathLike)):
        if not hasattr(filename, "read"):
            raise ValueError(
                f"filename must be a path (str or os.PathLike) or a binary file object "
                f"opened for reading, got {filename!r} of type {type(filename).__name__}"
            )
        if mmap_mode is not None:
            raise ValueError(
                f"mmap_mode={mmap_mode!r} needs a path, but a file object was given: a "
                "file object cannot be memory-mapped. Pass the file's path instead "
                "(load(path, mmap_mode=...)), or drop mmap_mode."
            )
        where = f"file object {getattr(filename, 'name', type(filename).__name__)!r}"
        return _load_file_object(filename, where, allow)
    path = os.fsdecode(os.fspath(filename))
    where = repr(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"cannot load {path!r}: it is a directory, not a file written by dump; "
            "pass the path of a file inside it"
        )
    with open(path, "rb", buffering=0) as raw:
        head = raw.read(len(MAGIC))
        raw.seek(0)
        size = os.fstat(raw.fileno()).st_size
        if head.startswith(MAGIC):
            return _dispatch(raw, head, where, path, mmap_mode, allow, size)
        buffered = io.BufferedReader(raw, 1 << 16)
        return _dispatch(buffered, head, where, path, mmap_mode, allow, size)


def _load_file_object(file: IO[bytes], where: str, allow: AllowList | None) -> Any:
    try:
        seekable = file.seekable()
    except (AttributeError, OSError, ValueError):
        seekable = False
    if seekable:
        start = file.tell()
        head = file.read(len(MAGIC))
        file.seek(start)
        return _dispatch(file, head, where, None, None, allow, None)
    head = file.read(len(MAGIC))
    stream = io.BufferedReader(_Prepended(head, file))
    return _dispatch(stream, head, where, None, None, allow, None)
