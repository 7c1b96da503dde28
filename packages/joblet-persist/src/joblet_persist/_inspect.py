"""See what a file holds without running it: format, sizes, arrays, globals.

The pickle stream is walked opcode by opcode (``pickletools.genops``) with a
small symbolic stack that only records values; nothing is imported or called.
"""

from __future__ import annotations

import io
import os
import pickletools
import re
from dataclasses import dataclass, field
from typing import IO, Any

from ._compressors import compressor_for_prefix
from ._errors import FormatError
from ._format import HEADER, MAGIC, Header, decode_table
from ._joblib_reader import JOBLIB_MODULES

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


@dataclass
class Report:
    """What ``inspect_file`` found; ``str(report)`` is the printed form."""

    path: str
    format: str
    compression: str | None
    file_bytes: int
    pickle_bytes: int
    arrays: list[dict[str, Any]] = field(default_factory=list)
    buffers: list[int] = field(default_factory=list)
    globals: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"file:        {self.path}",
            f"format:      {self.format}",
            f"compression: {self.compression or 'none'}",
            f"file size:   {self.file_bytes} bytes",
            f"pickle:      {self.pickle_bytes} bytes",
            f"arrays:      {len(self.arrays)}",
        ]
        for array in self.arrays:
            lines.append(
                f"  dtype={array['dtype']} shape={tuple(array['shape'])} "
                f"order={array['order']} bytes={array['nbytes']}"
            )
        if self.buffers:
            lines.append(
                f"other buffers: {len(self.buffers)} ({sum(self.buffers)} bytes)"
            )
        lines.append(f"globals:     {len(self.globals)}")
        lines += [f"  {name}" for name in self.globals]
        return "\n".join(lines)


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


def _walk(file: IO[bytes], report: Report, joblib_arrays: bool) -> None:
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
        for opcode, arg, _ in pickletools.genops(file):
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
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise FormatError(f"{report.path} has a damaged pickle stream: {exc}") from exc


def _pairs(target: dict[Any, Any], items: list[Any]) -> dict[Any, Any]:
    for key, value in zip(items[::2], items[1::2], strict=False):
        try:
            target[key] = value
        except TypeError:  # unhashable symbolic key: not needed for a report
            pass
    return target


def _skip_joblib_array(file: IO[bytes], state: dict[str, Any], report: Report) -> None:
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
    count = 1
    for n in shape:
        count *= int(n)
    nbytes = count * _itemsize(dtype)
    if "numpy_array_alignment_bytes" in state:
        pad = file.read(1)
        file.read(pad[0] if pad else 0)
    file.read(nbytes)
    report.arrays.append(
        {"dtype": name, "shape": shape, "order": order, "nbytes": nbytes}
    )


def inspect_file(filename: str | os.PathLike[str]) -> Report:
    """Describe a joblet, joblib or pickle file without executing it.

    Parameters
    ----------
    filename : str or os.PathLike
        The file to describe.

    Returns
    -------
    Report
        Format, compression, sizes, each array's dtype/shape/bytes and every
        global the file would import; ``print(report)`` shows it.
    """
    path = os.fsdecode(os.fspath(filename))
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        head = file.read(len(MAGIC))
        file.seek(0)
        if head.startswith(MAGIC):
            return _inspect_container(file, path, size)
        found = compressor_for_prefix(head)
        if found is not None:
            name, compressor = found
            with compressor.decompressor_file(file) as inner:
                data = inner.read()
            return _inspect_stream(io.BytesIO(data), path, size, name)
        return _inspect_stream(file, path, size, None)


def _inspect_stream(
    file: IO[bytes], path: str, size: int, compression: str | None
) -> Report:
    if file.read(len(MAGIC)).startswith(MAGIC):
        file.seek(0)
        data = file.read()
        report = _inspect_container(io.BytesIO(data), path, len(data))
        report.compression = compression
        report.file_bytes = size
        return report
    file.seek(0)
    report = Report(path, "pickle", compression, size, 0)
    _walk(file, report, joblib_arrays=True)
    report.pickle_bytes = file.tell()
    if any(
        name.split(".NumpyArrayWrapper")[0] in JOBLIB_MODULES for name in report.globals
    ):
        report.format = "joblib"
    return report


def _inspect_container(file: IO[bytes], path: str, size: int) -> Report:
    from ._io import Source
    from ._legacy import ChunkReader

    where = repr(path)
    header = Header.unpack(file.read(HEADER.size), where)
    entries = decode_table(file.read(header.table_len), where)
    if header.compressed:
        source = Source(file, where)
        reader = ChunkReader(source, header.codec, header.chunk_size)
        pickled = bytearray(header.pickle_len)
        try:
            reader.fill(memoryview(pickled), "the pickle stream")
        finally:
            reader.close()
        compression = f"{header.codec} (level {header.level})"
    else:
        pickled = bytearray(file.read(header.pickle_len))
        compression = None
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
    _walk(io.BytesIO(bytes(pickled)), report, joblib_arrays=False)
    return report
