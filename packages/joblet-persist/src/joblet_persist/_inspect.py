"""See what a file holds without running it: format, sizes, arrays, globals.

The pickle stream is walked opcode by opcode (``pickletools.genops``) with a
small symbolic stack that only records values; nothing is imported or called.
"""

from __future__ import annotations

import io
import math
import os
import pickletools
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from ._detect import HEAD_BYTES, detect_format
from ._error_mapping import damage_is_format_error
from ._errors import FormatError, TruncatedFileError
from ._format import HEADER, MAGIC, Header, align, decode_table, file_size
from ._io import Source, read_upto
from ._joblib_reader import JOBLIB_MODULES
from ._legacy import ChunkReader
from ._load import open_decompressed

_STEP = 1 << 20

_MARK = object()


@dataclass
class _Global:
    module: str
    name: str


@dataclass
class _Call:
    callable: Any
    args: Any
    state: Any = None


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

    def readline(self) -> bytes:
        # in small reads: the decoded streams of compressed files have no readline
        while b"\n" not in self._pending:
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


def _itemsize(dtype: Any) -> int:
    if isinstance(dtype, _Call) and dtype.args and isinstance(dtype.args[0], str):
        state = dtype.state
        if (
            isinstance(state, tuple)
            and len(state) > 5
            and isinstance(state[5], int)
            and state[5] > 0
        ):
            return state[5]
        match = re.fullmatch(r"[<>|=]?([a-zA-Z])(\d*)", dtype.args[0])
        if match:
            kind, digits = match.groups()
            size = int(digits or 1)
            return 4 * size if kind == "U" else size
    return 0


def _dtype_name(dtype: Any) -> str:
    if isinstance(dtype, _Call) and dtype.args:
        return str(dtype.args[0])
    return repr(dtype)


def _walk(file: _Counted, report: Report, joblib_arrays: bool) -> None:
    """Record the globals of one pickle stream (and joblib's inline arrays)."""
    stack: list[Any] = []
    memo: dict[int, Any] = {}

    def pop_mark() -> list[Any]:
        items = []
        while stack and stack[-1] is not _MARK:
            items.append(stack.pop())
        if stack:
            stack.pop()
        return items[::-1]

    def record(module: str, name: str) -> _Global:
        full = f"{module}.{name}"
        if full not in report.globals:
            report.globals.append(full)
        return _Global(module, name)

    try:
        for opcode, arg, _ in pickletools.genops(file):  # type: ignore[arg-type]
            op = opcode.name
            if op in ("PROTO", "FRAME", "STOP", "READONLY_BUFFER"):
                if op == "STOP":
                    return
                continue
            if op == "MARK":
                stack.append(_MARK)
            elif op in ("GLOBAL", "INST"):
                module, name = str(arg).split(" ", 1)
                glob = record(module, name)
                if op == "INST":
                    stack.append(_Call(glob, tuple(pop_mark())))
                else:
                    stack.append(glob)
            elif op == "STACK_GLOBAL":
                name, module = stack.pop(), stack.pop()
                stack.append(record(str(module), str(name)))
            elif op in ("REDUCE", "NEWOBJ"):
                args, func = stack.pop(), stack.pop()
                stack.append(_Call(func, args))
            elif op == "NEWOBJ_EX":
                stack.pop()
                args, cls = stack.pop(), stack.pop()
                stack.append(_Call(cls, args))
            elif op == "OBJ":
                items = pop_mark()
                stack.append(_Call(items[0] if items else None, tuple(items[1:])))
            elif op == "BUILD":
                state = stack.pop()
                target = stack[-1]
                if isinstance(target, _Call):
                    target.state = state
                    func = target.callable
                    if (
                        joblib_arrays
                        and isinstance(func, _Global)
                        and func.module in JOBLIB_MODULES
                        and isinstance(state, dict)
                    ):
                        _skip_joblib_array(file, state, report)
            elif op in ("EMPTY_DICT", "EMPTY_LIST", "EMPTY_SET"):
                stack.append({} if op == "EMPTY_DICT" else [])
            elif op == "EMPTY_TUPLE":
                stack.append(())
            elif op in ("TUPLE", "LIST", "FROZENSET"):
                items = pop_mark()
                stack.append(tuple(items) if op == "TUPLE" else list(items))
            elif op == "DICT":
                items = pop_mark()
                stack.append(_pairs({}, items))
            elif op in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(op[-1])
                items = stack[-n:]
                del stack[-n:]
                stack.append(tuple(items))
            elif op == "SETITEM":
                value, key = stack.pop(), stack.pop()
                if isinstance(stack[-1], dict):
                    _pairs(stack[-1], [key, value])
            elif op == "SETITEMS":
                items = pop_mark()
                if isinstance(stack[-1], dict):
                    _pairs(stack[-1], items)
            elif op in ("APPEND",):
                stack.pop()
            elif op in ("APPENDS", "ADDITEMS", "POP_MARK"):
                pop_mark()
            elif op == "POP":
                stack.pop()
            elif op == "DUP":
                stack.append(stack[-1])
            elif op == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif op in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(str(arg))] = stack[-1]
            elif op in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo.get(int(str(arg))))
            elif op in ("PERSID",):
                stack.append(None)
            elif op == "BINPERSID":
                stack[-1] = None
            elif op in ("EXT1", "EXT2", "EXT4"):
                stack.append(record("copyreg.extension", str(arg)))
            else:  # value-pushing opcodes: ints, strings, bytes, None, bools, buffers
                stack.append(arg)
    except FormatError:
        raise
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        if "exhausted" in str(exc) or "but only" in str(exc):
            raise TruncatedFileError(
                f"{file.where} is truncated: its pickle stream ends early ({exc}). "
                "Dump the data again."
            ) from exc
        raise FormatError(f"{file.where} has a damaged pickle stream: {exc}") from exc
    raise TruncatedFileError(
        f"{file.where} is truncated: its pickle stream ends before its STOP opcode. "
        "Dump the data again."
    )


def _pairs(target: dict[Any, Any], items: list[Any]) -> dict[Any, Any]:
    for key, value in zip(items[::2], items[1::2], strict=False):
        try:
            target[key] = value
        except TypeError:  # unhashable symbolic key: not needed for a report
            pass
    return target


def _skip_joblib_array(file: _Counted, state: dict[str, Any], report: Report) -> None:
    dtype = state.get("dtype")
    shape = tuple(state.get("shape") or ())
    order = state.get("order", "C")
    name = _dtype_name(dtype)
    if name.lstrip("<>|=").startswith("O"):
        report.arrays.append(
            {"dtype": name, "shape": shape, "order": order, "nbytes": 0}
        )
        _walk(file, report, joblib_arrays=True)  # nested pickle of an object array
        return
    nbytes = math.prod(int(n) for n in shape) * _itemsize(dtype)
    if state.get("numpy_array_alignment_bytes") is not None:  # joblib >= 1.2
        pad = file.read_exact(1, "an array's padding")
        file.skip(pad[0], "an array's padding")
    file.skip(nbytes, f"the data of an array of shape {shape}")
    report.arrays.append(
        {"dtype": name, "shape": shape, "order": order, "nbytes": nbytes}
    )


def inspect_file(filename: str | os.PathLike[str]) -> Report:
    """Describe a joblet, joblib or pickle file without executing it.

    The whole file is read (and decompressed, when compressed), so a truncated
    or damaged file is reported as such, as :func:`load` would refuse it.

    Parameters
    ----------
    filename : str or os.PathLike
        The file to describe.

    Returns
    -------
    Report
        Format, compression and ratio, sizes, each array's dtype/shape/bytes
        and every global the file would import; ``print(report)`` shows it.

    Raises
    ------
    FormatError
        The file is empty, truncated (:class:`TruncatedFileError`), damaged or
        not a joblet, joblib or pickle file.
    """
    path = os.fsdecode(os.fspath(filename))
    where = repr(path)
    size = os.path.getsize(path)
    with open(path, "rb") as raw, damage_is_format_error(where):
        head = raw.read(HEAD_BYTES)
        raw.seek(0)
        found = detect_format(head)
        _refuse_unreadable(found.kind, head, where)
        if found.kind != "compressed" or found.compressor is None:
            return _inspect_decoded(_Counted(raw, where), path, size)
        decoded = open_decompressed(raw, found.compressor_name, found.compressor, where)
        try:  # closing stops the decoder's threads
            stream = _Counted(decoded, where)
            report = _inspect_decoded(stream, path, size)
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


def _inspect_decoded(stream: _Counted, path: str, size: int) -> Report:
    """A report of an uncompressed joblet file or pickle stream, read in order."""
    head = stream.read(len(MAGIC))
    stream.push_back(head)
    if head.startswith(MAGIC):
        return _inspect_container(stream, path, size)
    report = Report(path, "pickle", None, size, 0)
    _walk(stream, report, joblib_arrays=True)
    report.pickle_bytes = stream.position
    if any(
        name.split(".NumpyArrayWrapper")[0] in JOBLIB_MODULES for name in report.globals
    ):
        report.format = "joblib"
    return report


def _inspect_container(stream: _Counted, path: str, size: int) -> Report:
    where = stream.where
    header = Header.unpack(stream.read(HEADER.size), where)
    table = stream.read_exact(header.table_len, "the buffer table")
    entries = decode_table(table, where)
    if header.compressed:  # format version 1: joblet's own chunked container
        reader = ChunkReader(Source(stream, where), header.codec, header.chunk_size)  # type: ignore[arg-type]
        pickled = bytearray(header.pickle_len)
        try:
            reader.fill(memoryview(pickled), "the pickle stream")
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
    for entry in entries:
        if entry.kind == "array":
            report.arrays.append(
                {
                    "dtype": entry.dtype,
                    "shape": entry.shape,
                    "order": entry.order,
                    "nbytes": entry.nbytes,
                }
            )
        else:
            report.buffers.append(entry.nbytes)
    _walk(_Counted(io.BytesIO(bytes(pickled)), where), report, joblib_arrays=False)
    return report
