"""Reading joblib (>= 0.10) files and plain pickle files.

A joblib file is a pickle stream in which each numpy array is a
``joblib.numpy_pickle.NumpyArrayWrapper`` whose BUILD opcode is followed by the
raw array bytes (since joblib 1.2, after one pad-length byte and that many pad
bytes). Plain pickles go through the fast C unpickler; when it meets joblib's
wrapper, the stream is read again by a pure-Python unpickler that reads the
inline array bytes (or memory-maps them) after each wrapper.
"""

from __future__ import annotations

import math
import os
import pickle
from typing import IO, Any

from ._error_mapping import as_format_error, is_damage
from ._errors import (
    FormatError,
    TruncatedFileError,
    UnsafeModificationError,
)
from ._io import read_exact_into
from ._numpy_io import map_array
from ._restricted import AllowList, RestrictedUnpickler

JOBLIB_MODULES = frozenset(
    {"joblib.numpy_pickle", "sklearn.externals.joblib.numpy_pickle"}
)


class JoblibArrayWrapper:
    """Stands in for ``joblib.numpy_pickle.NumpyArrayWrapper`` (plain state)."""

    subclass: Any
    shape: tuple[int, ...]
    order: str
    dtype: Any
    allow_mmap: bool


class _NeedsJoblibReader(Exception):
    """The stream holds joblib array wrappers: read it with JoblibUnpickler."""


def _import_numpy(where: str) -> Any:
    try:
        import numpy
    except ImportError:
        raise ImportError(
            f"{where} holds numpy arrays, and numpy is not installed; "
            "install it with `pip install 'joblet-persist[numpy]'`"
        ) from None
    return numpy


class JoblibUnpickler(RestrictedUnpickler):
    """Pure-Python unpickler reading joblib's inline array data.

    It is also how a restricted load reads plain pickle streams (``allow`` not
    None), with :class:`RestrictedUnpickler`'s checks.
    """

    stack: list[Any]
    dispatch = RestrictedUnpickler.dispatch.copy()

    def __init__(
        self,
        file: IO[bytes],
        where: str,
        path: str | None,
        mmap_mode: str | None,
        allow: AllowList | None,
    ) -> None:
        super().__init__(file, allow)
        self.file_handle = file
        self.where = where
        self.path = path
        self.mmap_mode = "r+" if mmap_mode == "w+" else mmap_mode
        self.allow = allow
        self.file_size = os.path.getsize(path) if path is not None else None

    def find_class(self, module: str, name: str) -> Any:
        if module in JOBLIB_MODULES:
            if name == "NumpyArrayWrapper":
                return JoblibArrayWrapper
            raise FormatError(
                f"{self.where} was written by joblib < 0.10 ({name}), a layout that "
                "joblet-persist does not read; load it with that joblib and dump it again"
            )
        return super().find_class(module, name)

    def load_build(self) -> None:
        if len(self.stack) >= 2 and self.stack[-2] is JoblibArrayWrapper:
            # the class stands in for joblib's in every load: never modified
            raise UnsafeModificationError(
                "joblib.numpy_pickle.NumpyArrayWrapper", "BUILD"
            )
        RestrictedUnpickler.load_build(self)
        top = self.stack[-1]
        if isinstance(top, JoblibArrayWrapper):
            self.stack[-1] = self._read_array(top)

    dispatch[pickle.BUILD[0]] = load_build

    def _read_array(self, wrapper: JoblibArrayWrapper) -> Any:
        numpy = _import_numpy(self.where)
        state = vars(wrapper)
        dtype = numpy.dtype(state["dtype"])
        shape = tuple(int(n) for n in state["shape"])
        order = "F" if state.get("order") == "F" else "C"
        file = self.file_handle
        if not dtype.hasobject:
            self._check_fits(math.prod(shape) * dtype.itemsize)
        if dtype.hasobject:
            array = JoblibUnpickler(file, self.where, None, None, self.allow).load()
        else:
            aligned = state.get("numpy_array_alignment_bytes") is not None
            if (
                self.mmap_mode is not None
                and self.path is not None
                and state.get("allow_mmap")
            ):
                array = self._map_array(dtype, shape, order, aligned)
            else:
                if aligned:
                    pad = file.read(1)
                    if not pad:
                        raise TruncatedFileError(
                            f"{self.where} is truncated inside an array"
                        )
                    file.read(pad[0])
                count = 1
                for n in shape:
                    count *= n
                array = numpy.empty(count, dtype=dtype)
                read_exact_into(file, memoryview(array.view(numpy.uint8)), self.where)
                if order == "F":
                    array = array.reshape(shape[::-1]).T
                else:
                    array = array.reshape(shape)
        subclass = state.get("subclass")
        if isinstance(subclass, type) and subclass not in (numpy.ndarray, numpy.memmap):
            try:
                array = array.view(subclass)
            except (TypeError, ValueError):
                pass
        return array

    def _check_fits(self, nbytes: int) -> None:
        """Refuse an array larger than what is left of the file, before allocating it."""
        if self.path is None or self.file_size is None:
            return  # a stream: memory is filled as data arrives, truncation caught then
        left = self.file_size - self.file_handle.tell()
        if nbytes > left:
            raise TruncatedFileError(
                f"{self.where} is truncated or damaged: an array announces {nbytes} "
                f"bytes, but only {left} bytes of the file are left. Dump the data again."
            )

    def _map_array(
        self, dtype: Any, shape: tuple[int, ...], order: str, aligned: bool
    ) -> Any:
        file = self.file_handle
        offset = file.tell()
        if aligned:
            pad = file.read(1)
            if not pad:
                raise TruncatedFileError(f"{self.where} is truncated inside an array")
            offset += pad[0] + 1
        nbytes = dtype.itemsize * math.prod(shape)
        if self.file_size is not None and offset + nbytes > self.file_size:
            # numpy.memmap would grow the file to fit (mode 'r+')
            raise TruncatedFileError(
                f"{self.where} is truncated or damaged: an array needs bytes "
                f"{offset} to {offset + nbytes}, the file has {self.file_size}."
            )
        assert self.path is not None  # mapping: a path and a mode
        assert self.mmap_mode is not None
        array = map_array(self.path, dtype, self.mmap_mode, offset, shape, order)
        file.seek(offset + nbytes)
        return array


class _SniffingUnpickler(pickle.Unpickler):
    """The C unpickler; stops as soon as the stream names joblib's wrappers."""

    def find_class(self, module: str, name: str) -> Any:
        if module in JOBLIB_MODULES:
            raise _NeedsJoblibReader
        return super().find_class(module, name)


def load_pickle_stream(
    file: IO[bytes],
    where: str,
    path: str | None,
    mmap_mode: str | None,
    allow: AllowList | None,
) -> Any:
    """Load a plain pickle or joblib stream from ``file``."""
    try:
        seekable = file.seekable()
    except (AttributeError, OSError, ValueError):
        seekable = False
    try:
        # A restricted load goes straight to the pure-Python reader: the C
        # unpickler cannot refuse opcodes that modify an imported global.
        if seekable and allow is None:
            start = file.tell()
            try:
                return _SniffingUnpickler(file).load()
            except _NeedsJoblibReader:
                file.seek(start)
        return JoblibUnpickler(file, where, path, mmap_mode, allow).load()
    except FormatError:
        raise
    except Exception as exc:
        if isinstance(exc, pickle.UnpicklingError) and "truncated" in str(exc):
            raise TruncatedFileError(
                f"{where} is truncated: {exc}. Dump the data again."
            ) from exc
        if not is_damage(exc):
            raise
        raise as_format_error(exc, where) from exc
