"""See what a file holds without running it: format, sizes, arrays, globals.

The pickle stream is walked by the same walk as a restricted load (``_walk``),
in its dry mode: nothing is imported or called, no array is allocated.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from ._budget import Budget, check_max_bytes, default_limit
from ._detect import HEAD_BYTES, detect_format
from ._error_mapping import damage_is_format_error
from ._errors import FormatError, TruncatedFileError
from ._format import HEADER, MAGIC, Header, align, decode_table, file_size
from ._format_v1 import ChunkReader
from ._io import Source, read_upto
from ._joblib_reader import JOBLIB_MODULES
from ._load import open_decompressed
from ._walk import Walk
from ._walk_values import BufferInfo, Found

_STEP = 1 << 20


def human_size(nbytes: int) -> str:
    """``'1.5 MiB (1,572,864 bytes)'``: human units with the exact count."""
    if nbytes < 1024:
        return f"{nbytes:,} bytes"
    value = nbytes / 1024
    units = iter(("KiB", "MiB", "GiB", "TiB", "PiB"))
    unit = next(units)
    while value >= 1024 and unit != "PiB":
        value /= 1024
        unit = next(units)
    return f"{value:.1f} {unit} ({nbytes:,} bytes)"


@dataclass
class Report:
    """What ``inspect_file`` found; ``str(report)`` is the printed form.

    ``file_bytes`` is the size on disk; for a compressed file ``raw_bytes`` is
    the size of what it decompresses to, and ``ratio`` their quotient.
    """

    path: str
    format: str
    compression: str | None
    file_bytes: int
    pickle_bytes: int
    arrays: list[dict[str, Any]] = field(default_factory=list)
    buffers: list[int] = field(default_factory=list)
    globals: list[str] = field(default_factory=list)
    raw_bytes: int | None = None

    @property
    def ratio(self) -> float | None:
        """Decompressed size over compressed size (None when not compressed)."""
        if self.compression is None or self.raw_bytes is None or not self.file_bytes:
            return None
        return self.raw_bytes / self.file_bytes

    def __str__(self) -> str:
        compression = self.compression or "none"
        if self.ratio is not None and self.raw_bytes is not None:
            compression += f", ratio {self.ratio:.2f}x (decompresses to {human_size(self.raw_bytes)})"
        lines = [
            f"file:        {self.path}",
            f"format:      {self.format}",
            f"compression: {compression}",
            f"file size:   {human_size(self.file_bytes)}",
            f"pickle:      {human_size(self.pickle_bytes)}",
            f"arrays:      {len(self.arrays)}",
        ]
        for array in self.arrays:
            lines.append(
                f"  dtype={array['dtype']} shape={tuple(array['shape'])} "
                f"order={array['order']} size={human_size(array['nbytes'])}"
            )
        if self.buffers:
            lines.append(
                f"other buffers: {len(self.buffers)} ({human_size(sum(self.buffers))})"
            )
        lines.append(f"globals:     {len(self.globals)}")
        lines += [f"  {name}" for name in self.globals]
        return "\n".join(lines)


class _Counted:
    """A readable stream counting what it gives, with bytes pushed back in front."""

    def __init__(self, file: IO[bytes], where: str) -> None:
        self.file = file
        self.where = where
        self.position = 0
        self._pending = b""

    def push_back(self, data: bytes) -> None:
        self._pending = data + self._pending
        self.position -= len(data)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            data = self._pending + self.file.read()
            self._pending = b""
        else:
            data = self._pending[:n]
            self._pending = self._pending[n:]
            if len(data) < n:
                data += read_upto(self.file, n - len(data))
        self.position += len(data)
        return data

    def readline(self, limit: int = -1) -> bytes:
        # in small reads: the decoded streams of compressed files have no readline
        while b"\n" not in self._pending and (limit < 0 or len(self._pending) < limit):
            more = self.file.read(256)
            if not more:
                break
            self._pending += more
        line, newline, self._pending = self._pending.partition(b"\n")
        self.position += len(line) + len(newline)
        return line + newline

    def tell(self) -> int:
        return self.position

    def read_exact(self, n: int, what: str) -> bytes:
        data = self.read(n) if n <= _STEP else b"".join(self._chunks(n, what))
        if len(data) < n:
            self._truncated(what, len(data), n)
        return data

    def skip(self, n: int, what: str) -> None:
        """Read ``n`` bytes and drop them, a step at a time (never ``n`` at once)."""
        for _ in self._chunks(n, what):
            pass

    def drain(self) -> None:
        while self.read(_STEP):
            pass

    def _chunks(self, n: int, what: str) -> Iterator[bytes]:
        done = 0
        while done < n:
            data = self.read(min(_STEP, n - done))
            if not data:
                self._truncated(what, done, n)
            done += len(data)
            yield data

    def _truncated(self, what: str, got: int, n: int) -> None:
        raise TruncatedFileError(
            f"{self.where} is truncated: it ends inside {what} ({got:,} of {n:,} "
            "bytes present). Dump the data again."
        )


def _walk(
    file: _Counted,
    report: Report,
    budget: Budget,
    buffers: list[BufferInfo] | None = None,
) -> None:
    """Walk one pickle stream as a restricted load would, building nothing.

    The globals it names (those of joblib's nested object streams included)
    and the arrays it would build, with their sizes, go into ``report``.
    """
    found = Found(report.globals, report.arrays)
    walk = Walk(
        file,  # type: ignore[arg-type]
        file.where,
        budget,
        None,
        dry=True,
        buffers=iter(buffers) if buffers is not None else None,
        found=found,
    )
    try:
        walk.run()
    except (FormatError, ImportError):
        raise
    except (ValueError, IndexError, KeyError, TypeError, UnicodeError,
            OverflowError, RecursionError) as exc:  # fmt: skip
        raise FormatError(f"{file.where} has a damaged pickle stream: {exc}") from exc


def inspect_file(
    filename: str | os.PathLike[str], *, max_bytes: int | None = None
) -> Report:
    """Describe a joblet, joblib or pickle file without executing it.

    The whole file is read (and decompressed, when compressed), so a truncated
    or damaged file is reported as such, as :func:`load` would refuse it.

    Parameters
    ----------
    filename : str or os.PathLike
        The file to describe.
    max_bytes : int, optional
        The most bytes the description may hold in memory (strings and bytes
        of the pickle stream); default as for a restricted :func:`load`: 100
        times the size of the file, at least 16 MiB.

    Returns
    -------
    Report
        Format, compression and ratio, sizes, each array's dtype/shape/bytes
        and every global the file would import; ``print(report)`` shows it.
        The pickle stream is walked exactly as a restricted :func:`load`
        reconstructs it, so the globals listed are every global ``load``
        would import or call (inside joblib's array records and their nested
        object streams too), and the arrays every array it would allocate.

    Raises
    ------
    FormatError
        The file is empty, truncated (:class:`TruncatedFileError`), damaged or
        not a joblet, joblib or pickle file.
    """
    check_max_bytes(max_bytes)
    path = os.fsdecode(os.fspath(filename))
    where = repr(path)
    size = os.path.getsize(path)
    budget = Budget(default_limit(size) if max_bytes is None else max_bytes, where)
    with open(path, "rb") as raw, damage_is_format_error(where):
        head = raw.read(HEAD_BYTES)
        raw.seek(0)
        found = detect_format(head)
        _refuse_unreadable(found.kind, head, where)
        if found.kind != "compressed" or found.compressor is None:
            return _inspect_decoded(_Counted(raw, where), path, size, budget)
        decoded = open_decompressed(raw, found.compressor_name, found.compressor, where)
        try:  # closing stops the decoder's threads
            stream = _Counted(decoded, where)
            report = _inspect_decoded(stream, path, size, budget)
            stream.drain()
        finally:
            decoded.close()
        report.compression = found.compressor_name
        report.raw_bytes = stream.position
        return report


def _refuse_unreadable(kind: str, head: bytes, where: str) -> None:
    if kind == "empty":
        raise FormatError(f"{where} is empty (0 bytes): nothing was dumped there.")
    if kind == "truncated-joblet":
        raise TruncatedFileError(f"{where} is truncated inside its header.")
    if kind == "unknown":
        raise FormatError(
            f"{where} is not a joblet-persist, joblib or pickle file: it starts with "
            f"{head[:8]!r}. Was it written by joblet_persist.dump, joblib.dump or "
            "pickle.dump?"
        )


def _inspect_decoded(stream: _Counted, path: str, size: int, budget: Budget) -> Report:
    """A report of an uncompressed joblet file or pickle stream, read in order."""
    head = stream.read(len(MAGIC))
    stream.push_back(head)
    if head.startswith(MAGIC):
        return _inspect_container(stream, path, size, budget)
    report = Report(path, "pickle", None, size, 0)
    _walk(stream, report, budget)
    report.pickle_bytes = stream.position
    if any(
        name.split(".NumpyArrayWrapper")[0] in JOBLIB_MODULES for name in report.globals
    ):
        report.format = "joblib"
    return report


def _inspect_container(
    stream: _Counted, path: str, size: int, budget: Budget
) -> Report:
    where = stream.where
    header = Header.unpack(stream.read(HEADER.size), where)
    table = stream.read_exact(header.table_len, "the buffer table")
    entries = decode_table(table, where)
    if header.compressed:  # format version 1: joblet's own chunked container
        reader = ChunkReader(Source(stream, where), header.codec, header.chunk_size)
        try:
            pickled = reader.read_growing(header.pickle_len, "the pickle stream")
        finally:
            reader.close()
        compression: str | None = f"{header.codec} (level {header.level})"
    else:
        pickled = bytearray(stream.read_exact(header.pickle_len, "the pickle stream"))
        compression = None
        if zlib.crc32(pickled, zlib.crc32(table)) != header.crc:
            raise FormatError(
                f"{where} is corrupted: the checksum of its table and pickle stream "
                "does not match. Dump the data again."
            )
        if header.buffers_len:
            start = align(HEADER.size + header.table_len + header.pickle_len)
            stream.skip(start - stream.position, "the padding before the arrays")
            stream.skip(header.buffers_len, "the array data")
        end = file_size(header, len(entries))
        stream.skip(end - stream.position, "the buffer checksums")
    report = Report(
        path,
        f"joblet-persist (format version {header.version})",
        compression,
        size,
        len(pickled),
    )
    report.buffers = [entry.nbytes for entry in entries if entry.kind != "array"]
    described = [BufferInfo(entry.nbytes, entry.kind) for entry in entries]
    stream_of_pickle = _Counted(io.BytesIO(bytes(pickled)), where)
    _walk(stream_of_pickle, report, budget, described)
    return report
