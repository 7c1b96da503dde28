"""``load``: recognise the file by its first bytes, then read it.

joblet files (our magic), standard compressed streams (a compressor's magic:
joblet's compressed dumps, joblib's compressed files, a file gzipped by hand),
and plain pickle streams (joblib's uncompressed files among them) are told
apart by their magic bytes only, never by the file name.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import IO, Any

from ._allow_list import AllowList, make_allow_list
from ._budget import Budget, check_max_bytes, default_limit
from ._compression.base import CompressorWrapper
from ._container import LoadOptions, read_container
from ._detect import HEAD_BYTES, detect_format
from ._error_mapping import CODEC_ERRORS, codec_error, damage_is_format_error
from ._errors import FormatError, TruncatedFileError
from ._io import Prepended, read_upto
from ._numpy_io import native_byte_order, swapping_to_native
from ._types import MMAP_MODES
from ._warnings import warn_not_mapped


def open_decompressed(
    file: IO[bytes], name: str, compressor: CompressorWrapper, where: str
) -> IO[bytes]:
    """A readable stream of what ``file`` decompresses to.

    Built-in formats decode in parallel where the stream's metadata allows it
    (and sequentially otherwise); other compressors through their file class.
    """
    missing = compressor.available()
    if missing is not None:
        raise ImportError(f"{where} is compressed with {name}: {missing}")
    blocks = compressor.block_format(None)
    if blocks is not None:
        from ._compression.streams import DecodedStream

        return DecodedStream(file, blocks, where)  # type: ignore[return-value]
    try:
        return compressor.decompressor_file(file)
    except CODEC_ERRORS as exc:
        raise codec_error(exc, where, name) from exc


def _read_compressed(
    file: IO[bytes], name: str, compressor: CompressorWrapper, options: LoadOptions
) -> Any:
    where = options.where
    if options.mmap_mode is not None:
        warn_not_mapped(options.mmap_mode, where, name)
    inner = open_decompressed(file, name, compressor, where)
    try:
        with inner:
            head = read_upto(inner, HEAD_BYTES)
            stream = io.BufferedReader(Prepended(head, inner))
            value = _read_by_format(stream, head, options.in_memory())
            # reach the stream's end, so that its trailer (checksum, seek table,
            # index) is checked; data after the dump is left unread, as in joblib
            inner.read(1)
            return value
    except CODEC_ERRORS as exc:
        if isinstance(exc, (FormatError, ImportError)):
            raise
        raise codec_error(exc, where, name) from exc


def _read_by_format(file: IO[bytes], head: bytes, options: LoadOptions) -> Any:
    """Read ``file`` (positioned at its start; ``head`` its first bytes)."""
    where = options.where
    found = detect_format(head)
    if found.kind == "empty":
        raise FormatError(
            f"{where} is empty (0 bytes): nothing was dumped there, or the write was "
            "interrupted before it began. Dump the data again."
        )
    if found.kind == "joblet":
        return read_container(file, options)
    if found.kind == "truncated-joblet":
        raise TruncatedFileError(
            f"{where} is truncated inside its header. Dump the data again."
        )
    if found.kind == "compressed":
        assert found.compressor is not None
        return _read_compressed(file, found.compressor_name, found.compressor, options)
    if found.kind == "pickle":
        from ._joblib_reader import load_pickle_stream

        return load_pickle_stream(file, options)
    raise FormatError(
        f"{where} is not a joblet-persist, joblib or pickle file: it starts with "
        f"{head[:8]!r}. Was it written by joblet_persist.dump, joblib.dump or pickle.dump?"
    )


def load(
    filename: str | os.PathLike[str] | IO[bytes],
    mmap_mode: str | None = None,
    ensure_native_byte_order: bool | str = "auto",
    *,
    allowed_globals: Iterable[Any] | None = None,
    verify: bool | None = None,
    max_bytes: int | None = None,
    same_file_as: os.stat_result | None = None,
) -> Any:
    """Reconstruct a Python object from a file persisted with :func:`dump`.

    Also reads files written by ``joblib.dump`` (joblib >= 0.10, any compressor),
    plain pickle files, and any joblet or joblib file compressed afterwards with
    a standard tool (``gzip``, ``xz``, ``zstd`` ...). The format and the
    compressor are recognised from the file's first bytes, never from its name.

    Parameters
    ----------
    filename : str, os.PathLike or binary file object
        The path of the file, or a binary file object open for reading
        (``open(..., 'rb')``, ``gzip.GzipFile``, ``io.BytesIO`` ...). A file
        object is read from its current position, exactly as far as the dump it
        holds (several dumps in one stream load one after the other); one left
        at its end after a ``dump`` (a ``BytesIO`` not rewound) is read from its
        start, as joblib does.
    mmap_mode : {None, 'r', 'r+', 'c', 'w+'}, optional
        Memory-map the arrays instead of reading them: they come back as
        ``numpy.memmap`` backed by the file (``'w+'`` acts as ``'r+'``, the file
        is never truncated). Needs a path and an uncompressed file; on a
        compressed file or a file object the arrays are loaded in memory, with
        a warning (as joblib).
    ensure_native_byte_order : bool or 'auto', default 'auto'
        As in joblib 1.5+: True gives the arrays of joblet and joblib records
        in the byte order of this machine (values preserved); False leaves them
        as written; 'auto' is True without ``mmap_mode``, False with it. True
        with ``mmap_mode`` raises ValueError (a mapped array cannot be swapped).
    allowed_globals : iterable of str, class or function, optional
        None (default): like pickle, the file may import any global, which runs
        code: only load files you trust. Otherwise a restricted load: the file
        is reconstructed, never executed. It may name only
        :data:`DEFAULT_ALLOWED_GLOBALS` (each rebuilt by joblet-persist's own
        typed reconstructors from checked arguments) plus these
        (``"module.qualname"`` strings, ``"module.*"``, or the objects
        themselves), and raises :class:`UnsafeGlobalError` naming any other;
        pass ``()`` for the defaults alone. The globals you add are trusted:
        the file calls them with arguments it chooses, so list only code you
        trust with any arguments.
    verify : bool, optional
        Check every buffer (array) against the xxh3 checksum the file records
        (files of format version 2). None (default): check when the buffers are
        read into memory, not when they are memory-mapped (checking reads every
        page); True: check in both cases; False: never. The table and the pickle
        stream are always checked (CRC-32).
    max_bytes : int, optional
        The most bytes the load may allocate (arrays, buffers, strings,
        containers, decompressed streams), each allocation checked before it
        happens; above it, :class:`SizeLimitError` names the size and the
        limit. Default for a restricted load: 100 times the size of the file
        (at least 16 MiB); for a normal load, no limit beyond the sizes the
        file declares, which must fit in the file (a buffer of a stream of
        unknown size grows as its data arrives).
    same_file_as : os.stat_result, optional
        For a caller that checked an open file (its signature, its owner)
        and loads it by path, as memory-mapping needs: the ``os.fstat`` of
        that file. The load opens the path and refuses, before reading
        anything, a file that is not that one (renamed over since the check),
        with :class:`FormatError`.

    Returns
    -------
    object
        The object stored in the file.

    Raises
    ------
    FormatError
        Empty, corrupted or foreign file (:class:`TruncatedFileError` when cut
        short, :class:`UnsupportedVersionError` when written by a newer release).
    SizeLimitError
        The load would allocate more than ``max_bytes``.
    UnsafeGlobalError
        A restricted load met a global outside the allow-list.
    ValueError
        Invalid ``mmap_mode``, ``max_bytes`` or ``ensure_native_byte_order``.
    """
    if mmap_mode not in MMAP_MODES:
        raise ValueError(
            f"invalid mmap_mode {mmap_mode!r}: expected None, 'r', 'r+', 'c' or 'w+' "
            "(the modes of numpy.memmap)"
        )
    check_max_bytes(max_bytes)
    native = native_byte_order(ensure_native_byte_order, mmap_mode)
    allow = make_allow_list(allowed_globals)
    with swapping_to_native(native):
        return _load(filename, mmap_mode, allow, verify, max_bytes, same_file_as)


def _budget(
    allow: AllowList | None, max_bytes: int | None, size: int | None, where: str
) -> Budget:
    if max_bytes is None and allow is not None:
        max_bytes = default_limit(size)
    return Budget(max_bytes, where)


def _load(
    filename: str | os.PathLike[str] | IO[bytes],
    mmap_mode: str | None,
    allow: AllowList | None,
    verify: bool | None,
    max_bytes: int | None,
    same_file_as: os.stat_result | None = None,
) -> Any:
    if not isinstance(filename, (str, bytes, os.PathLike)):
        if not hasattr(filename, "read"):
            raise ValueError(
                f"filename must be a path (str or os.PathLike) or a binary file object "
                f"opened for reading, got {filename!r} of type {type(filename).__name__}"
            )
        where = f"file object {getattr(filename, 'name', type(filename).__name__)!r}"
        if mmap_mode is not None:
            warn_not_mapped(mmap_mode, where, None)
        budget = _budget(allow, max_bytes, _size_left(filename), where)
        with damage_is_format_error(where):
            return _load_file_object(
                filename, LoadOptions(where, allow=allow, verify=verify, budget=budget)
            )
    path = os.fsdecode(os.fspath(filename))
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"cannot load {path!r}: it is a directory, not a file written by dump; "
            "pass the path of a file inside it"
        )
    with open(path, "rb", buffering=0) as raw:
        if same_file_as is not None:
            _check_same_file(raw, same_file_as, path)
        head = read_upto(raw, HEAD_BYTES)
        raw.seek(0)
        size = os.fstat(raw.fileno()).st_size
        budget = _budget(allow, max_bytes, size, repr(path))
        options = LoadOptions(repr(path), path, mmap_mode, allow, size, verify, budget)
        with damage_is_format_error(options.where):
            if detect_format(head).kind == "joblet":
                return _read_by_format(raw, head, options)  # large unbuffered reads
            with io.BufferedReader(raw, 1 << 16) as buffered:  # closed, not collected
                return _read_by_format(buffered, head, options)


def _check_same_file(raw: IO[bytes], expected: os.stat_result, path: str) -> None:
    found = os.fstat(raw.fileno())
    if (found.st_dev, found.st_ino) != (expected.st_dev, expected.st_ino):
        raise FormatError(
            f"{path!r} is not the file that was checked before this load: it was "
            "replaced (renamed over) since; it is not loaded"
        )


def _size_left(file: IO[bytes]) -> int | None:
    """Bytes from the position of a seekable file object to its end (else None)."""
    try:
        if not file.seekable():
            return None
        start = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(start)
    except (AttributeError, OSError, ValueError):
        return None
    return max(end - start, 0) or end


def _load_file_object(file: IO[bytes], options: LoadOptions) -> Any:
    try:
        seekable = file.seekable()
    except (AttributeError, OSError, ValueError):
        seekable = False
    if seekable:
        start = file.tell()
        head = read_upto(file, HEAD_BYTES)
        if not head and start > 0:
            # at the end, as a BytesIO just written by dump: read it from its
            # start, as joblib does
            start = 0
            file.seek(0)
            head = read_upto(file, HEAD_BYTES)
        file.seek(start)
        return _read_by_format(file, head, options)
    head = read_upto(file, HEAD_BYTES)
    # no read-ahead buffer: the stream (a socket) is read exactly as far as needed
    return _read_by_format(Prepended(head, file), head, options)  # type: ignore[arg-type]
