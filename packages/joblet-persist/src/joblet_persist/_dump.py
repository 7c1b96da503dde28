"""``dump``: pickle with out-of-band buffers, then write the container atomically."""

from __future__ import annotations

import io
import os
import pickle
import sys
import zlib
from collections.abc import Iterator
from typing import IO, Any

from ._atomic import atomic_write
from ._checksums import DIGEST, encode_trailer, hashed_slices
from ._compression.arguments import resolve_compress
from ._compression.base import CompressorWrapper
from ._compression.registry import get_compressor, parallel_format
from ._format import (
    BUFFER_PERSISTENT_ID,
    FORMAT_VERSION,
    HEADER,
    BufferEntry,
    Header,
    align,
    encode_table,
)
from ._numpy_io import array_layout, is_plain_array, reduce_array
from ._types import Compress, PathOrFile

WRITE_SLICE = 1 << 28  # bytes per write() call: far below Linux's 2 GiB cap
PREALLOCATE_MIN = 1 << 24  # files this large get their blocks reserved up front
FALLOC_FL_KEEP_SIZE = 1


def _writer_name() -> str:
    # The version's one home is the package's __version__ (hatchling reads it).
    # The package is always loaded before this module (a submodule import
    # loads its package first), so it is looked up, not imported: an import
    # from here would be a circle with __init__, which imports this module.
    return f"joblet-persist {sys.modules[__package__].__version__}"


class _ArrayRef:
    """Stands for an array's bytes in a protocol < 5 stream (a persistent id)."""

    __slots__ = ()


class _Pickler(pickle.Pickler):
    """Pickler sending numpy arrays and protocol-5 buffers out of band.

    At protocol 5 an array's bytes travel as a ``PickleBuffer``; below, where
    pickle has no out-of-band buffers, as the persistent id
    :data:`BUFFER_PERSISTENT_ID`, so ``load(mmap_mode=...)`` maps them too.
    """

    def __init__(self, file: IO[bytes], protocol: int) -> None:
        if protocol >= 5:
            super().__init__(file, protocol, buffer_callback=self._take_buffer)
        else:
            super().__init__(file, protocol)
        self.protocol = protocol
        self.entries: list[BufferEntry] = []
        self.datas: list[memoryview] = []
        self._arrays: dict[int, tuple[Any, Any, str]] = {}

    def reducer_override(self, obj: Any) -> Any:
        # The C pickler calls this only for objects that are not builtin
        # containers or atoms, so dict- and list-heavy data pays nothing.
        if not is_plain_array(obj):
            return NotImplemented
        data, order = array_layout(obj)
        placeholder: Any = (
            pickle.PickleBuffer(bytearray()) if self.protocol >= 5 else _ArrayRef()
        )
        self._arrays[id(placeholder)] = (placeholder, data, order)
        return reduce_array(obj, placeholder, order)

    def _add_array(self, found: tuple[Any, Any, str]) -> None:
        import numpy

        _, data, order = found
        raw = memoryview(data.ravel(order="K").view(numpy.uint8))
        self.entries.append(
            BufferEntry(
                nbytes=raw.nbytes,
                kind="array",
                dtype=data.dtype.str,
                shape=tuple(data.shape),
                order=order,
            )
        )
        self.datas.append(raw)

    def _take_buffer(self, buffer: pickle.PickleBuffer) -> bool:
        found = self._arrays.pop(id(buffer), None)
        if found is not None:
            self._add_array(found)
            return False
        try:
            raw = buffer.raw()
        except BufferError:  # not contiguous: let pickle copy it in band
            return True
        self.entries.append(BufferEntry(nbytes=raw.nbytes))
        self.datas.append(raw)
        return False


class _OldProtocolPickler(_Pickler):
    """Below protocol 5: arrays' bytes travel as persistent ids.

    A separate class because the C pickler calls ``persistent_id`` for every
    object once a class defines it, a cost protocol 5 does not pay.
    """

    def persistent_id(self, obj: Any) -> str | None:
        if type(obj) is not _ArrayRef:
            return None
        self._add_array(self._arrays.pop(id(obj)))
        return BUFFER_PERSISTENT_ID


def _check_protocol(protocol: Any) -> int:
    if protocol is None:
        return pickle.HIGHEST_PROTOCOL
    if isinstance(protocol, bool) or not isinstance(protocol, int):
        raise ValueError(f"protocol must be an int or None, got {protocol!r}")
    if protocol < 0:
        return pickle.HIGHEST_PROTOCOL
    if protocol > pickle.HIGHEST_PROTOCOL:
        raise ValueError(
            f"pickle protocol {protocol} is not supported by this Python (highest is "
            f"{pickle.HIGHEST_PROTOCOL}); pass protocol=None for the best one"
        )
    return protocol


def serialize(
    value: Any, protocol: int
) -> tuple[bytes, list[BufferEntry], list[memoryview]]:
    """The pickle stream of ``value`` and its out-of-band buffers (not copied)."""
    sink = io.BytesIO()
    pickler = (_Pickler if protocol >= 5 else _OldProtocolPickler)(sink, protocol)
    pickler.dump(value)
    return sink.getvalue(), pickler.entries, pickler.datas


def _write_all(file: IO[bytes], data: memoryview | bytes) -> None:
    view = memoryview(data)
    if view.nbytes <= WRITE_SLICE:
        written = file.write(view)
        if written is None or written == view.nbytes:
            return
        view = view[written:]
    while view.nbytes:
        written = file.write(view[:WRITE_SLICE])
        if written is None:  # a non-blocking raw stream; not for files
            raise OSError("the file object accepted no data (non-blocking stream?)")
        view = view[written:]


def _preallocate(file: IO[bytes], size: int) -> None:
    """Reserve ``size`` bytes of disk for a new file (Linux ``fallocate``), if possible.

    The blocks are then allocated before the data is written, so the file system
    need not allocate them later: on ext4 this also spares the forced writeback
    that renaming a file with not-yet-allocated blocks over an existing one
    triggers (``auto_da_alloc``), leaving writeback to the kernel as for any
    ``write``. ``FALLOC_FL_KEEP_SIZE`` leaves the file size to the writes. Any
    failure (another OS, a file system without fallocate) is ignored: it only
    loses the optimisation.
    """
    if size < PREALLOCATE_MIN or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        # fallocate64 takes 64-bit offsets everywhere (glibc); musl >= 1.2.4 has
        # only fallocate, whose off_t is 64-bit on 64-bit systems
        fallocate = getattr(libc, "fallocate64", None)
        if fallocate is None and ctypes.sizeof(ctypes.c_long) == 8:
            fallocate = libc.fallocate
        if fallocate is None:
            return
        fallocate.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int64,
            ctypes.c_int64,
        ]
        fallocate.restype = ctypes.c_int
        fallocate(file.fileno(), FALLOC_FL_KEEP_SIZE, 0, size)
    except (OSError, AttributeError, ValueError, ImportError):
        pass


def _layout(
    pickled: bytes, entries: list[BufferEntry], datas: list[memoryview]
) -> tuple[Iterator[bytes | memoryview], int]:
    """The pieces of the uncompressed file, in order, and its total size.

    Sets each entry's offset. The buffers are referenced, not copied, and
    hashed slice by slice as the pieces are consumed; the checksums follow the
    last buffer.
    """
    position = 0
    for entry in entries:
        entry.offset = position
        position = align(position + entry.nbytes)
    buffers_len = entries[-1].offset + entries[-1].nbytes if entries else 0
    table = encode_table(entries, _writer_name())
    header = Header(
        FORMAT_VERSION,
        "",
        -1,
        zlib.crc32(pickled, zlib.crc32(table)),
        len(table),
        len(pickled),
        buffers_len,
        0,
    )
    start = HEADER.size + len(table) + len(pickled)
    base = align(start) if entries else start
    total = base + buffers_len + DIGEST.size * len(entries)

    def pieces() -> Iterator[bytes | memoryview]:
        yield header.pack() + table
        yield pickled
        written = start
        digests: list[int] = []
        for entry, data in zip(entries, datas, strict=True):
            target = base + entry.offset
            if target > written:
                yield b"\x00" * (target - written)
            yield from hashed_slices(data, digests)
            written = target + entry.nbytes
        yield encode_trailer(digests)

    return pieces(), total


def _write_plain(
    file: IO[bytes],
    pieces: Iterator[bytes | memoryview],
    total: int,
    preallocate: bool = False,
) -> None:
    if preallocate:
        _preallocate(file, total)
    for piece in pieces:
        _write_all(file, piece)


def _write_compressed(
    file: IO[bytes],
    pieces: Iterator[bytes | memoryview],
    total: int,
    compressor: CompressorWrapper,
    level: int | None,
) -> None:
    """The uncompressed file through the compressor: a standard stream."""
    if level is None:
        level = compressor.default_level
    blocks = parallel_format(compressor, level)
    if blocks is not None:
        from ._compression.streams import write_stream

        write_stream(file, pieces, total, blocks, _write_all)
        return
    with compressor.compressor_file(file, compresslevel=level) as stream:
        for piece in pieces:
            _write_all(stream, piece)


def dump(
    value: Any,
    filename: PathOrFile,
    compress: Compress = 0,
    protocol: int | None = None,
    *,
    format: str = "joblet",
) -> list[str] | None:
    """Persist an arbitrary Python object into one file.

    numpy arrays (any non-object dtype) and pickle-protocol-5 buffers are written
    raw, 64-byte aligned, without being copied, so :func:`load` can memory-map
    them. The file is written to a temporary name in the same folder and renamed,
    so an interrupted dump never leaves a partial file under ``filename``.

    Parameters
    ----------
    value : any Python object
        The object to store to disk.
    filename : str, os.PathLike or binary file object
        The path, or an open binary file object (``open(..., 'wb')``,
        ``gzip.GzipFile``, ``io.BytesIO`` ...). With a path, the extensions
        ``.z .gz .bz2 .xz .lzma .lz4 .zst`` select that compressor when
        ``compress`` is not a name or a tuple. A missing folder is an error
        (it is not created).
    compress : bool, int, str or (str, int), default 0
        0 or False: no compression. True: zlib at level 3. An int 1-9: zlib at
        that level. A name (``'zlib'``, ``'gzip'``, ``'bz2'``, ``'lzma'``,
        ``'xz'``, ``'lz4'``, ``'zstd'`` or a registered one): that compressor at
        its default level. A ``(name, level)`` tuple, level 0-9. The file is
        then a standard stream of that format (``gzip -d`` gives the
        uncompressed file), compressed on several threads.
    protocol : int, optional
        Pickle protocol, the highest by default. At every protocol numpy
        arrays are stored raw after the pickle stream (memory-mappable);
        protocol 5 also stores other ``PickleBuffer`` objects raw.
    format : {'joblet', 'joblib'}, default 'joblet'
        'joblib' writes the layout of ``joblib.dump`` instead, which joblib
        0.10 and later load (arrays memory-mappable with joblib's
        ``mmap_mode``, 16-byte aligned), for machines where only joblib is
        installed; compressors: zlib, gzip, bz2, lzma, xz, lz4, as one
        single-threaded stream like joblib's. joblib is not needed to write it.

    Returns
    -------
    list of str or None
        ``[filename]`` for a path (as joblib), None for a file object.

    Raises
    ------
    ValueError
        For an unknown compressor, a level outside 0-9, a missing optional
        package (lz4, zstd) or a ``filename`` that is neither a path nor a file
        object.
    FileNotFoundError
        When the folder of ``filename`` does not exist.
    """
    protocol = _check_protocol(protocol)
    path: str | None = None
    if isinstance(filename, (str, bytes, os.PathLike)):
        path = os.fsdecode(os.fspath(filename))
    elif not hasattr(filename, "write"):
        raise ValueError(
            f"filename must be a path (str or os.PathLike) or a binary file object "
            f"opened for writing, got {filename!r} of type {type(filename).__name__}; "
            "note the order is dump(value, filename)"
        )
    codec = resolve_compress(compress, path)
    if format != "joblet":
        from ._joblib_writer import check_format, check_joblib_codec, write_joblib

        check_format(format)
        check_joblib_codec(codec)
        if path is None:
            write_joblib(value, filename, codec, protocol)  # type: ignore[arg-type]
            return None
        atomic_write(path, lambda file: write_joblib(value, file, codec, protocol))
        return [path]
    pickled, entries, datas = serialize(value, protocol)
    pieces, total = _layout(pickled, entries, datas)

    def write(file: IO[bytes]) -> None:
        if codec is None:
            _write_plain(file, pieces, total, preallocate=path is not None)
        else:
            name, level = codec
            _write_compressed(file, pieces, total, get_compressor(name), level)

    if path is None:
        write(filename)  # type: ignore[arg-type]
        return None
    atomic_write(path, write)
    return [path]
