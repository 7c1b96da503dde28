"""Reading joblib (>= 0.10) files and plain pickle files.

A joblib file is a pickle stream in which each numpy array is a
``joblib.numpy_pickle.NumpyArrayWrapper`` whose BUILD opcode is followed by the
raw array bytes (since joblib 1.2, after one pad-length byte and that many pad
bytes). Plain pickles go through the fast C unpickler; when it meets joblib's
wrapper, the stream is read again by a pure-Python unpickler that reads the
inline array bytes (or memory-maps them) after each wrapper. A restricted load
reads both with the walk of ``_walk`` instead (``_array_records`` reads the
inline arrays), never with an unpickler.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, ClassVar

from ._error_mapping import as_format_error, is_damage
from ._errors import (
    FormatError,
    TruncatedFileError,
    UnsafeModificationError,
)
from ._io import GROW_MIN, fill_growing, read_exact_into
from ._numpy_io import map_array, to_native

if TYPE_CHECKING:
    from ._container import LoadOptions

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


if TYPE_CHECKING:

    class _PyUnpickler(pickle.Unpickler):
        """What this module uses of pickle's pure-Python unpickler.

        typeshed types it as the C class, without the internals below.
        """

        stack: list[Any]
        dispatch: ClassVar[dict[int, Callable[[Any], None]]]

        def load_build(self) -> None: ...

else:
    # The pure-Python unpickler: its opcode table is the only way to read the
    # raw array bytes joblib writes after a wrapper's BUILD, and pickle gives
    # it no public name.
    _PyUnpickler = pickle._Unpickler  # noqa: SLF001 (pickle has no public name for it)


def find_class_or_format_error(find: Any, module: str, name: str, where: str) -> Any:
    """``find(module, name)``, a global that cannot be imported being a FormatError."""
    try:
        return find(module, name)
    except (ImportError, SyntaxError) as exc:
        raise FormatError(
            f"{where} refers to {module}.{name}, which cannot be imported here "
            f"({type(exc).__name__}: {exc}): install the package that defines it, "
            "or the file is damaged"
        ) from exc


class JoblibUnpickler(_PyUnpickler):
    """Pure-Python unpickler reading joblib's inline array data (trusted files).

    A restricted load reads joblib files with the walk of ``_walk`` instead.
    """

    stack: list[Any]
    dispatch = _PyUnpickler.dispatch.copy()

    def __init__(self, file: IO[bytes], options: LoadOptions) -> None:
        super().__init__(file)
        self.file_handle = file
        self.options = options
        self.where = options.where
        self.path = options.path
        self.mmap_mode = "r+" if options.mmap_mode == "w+" else options.mmap_mode
        self.file_size = options.file_size

    def find_class(self, module: str, name: str) -> Any:
        if module in JOBLIB_MODULES:
            if name == "NumpyArrayWrapper":
                return JoblibArrayWrapper
            raise FormatError(
                f"{self.where} was written by joblib < 0.10 ({name}), a layout that "
                "joblet-persist does not read; load it with that joblib and dump it again"
            )
        return find_class_or_format_error(super().find_class, module, name, self.where)

    def load_build(self) -> None:
        if len(self.stack) >= 2 and self.stack[-2] is JoblibArrayWrapper:
            # the class stands in for joblib's in every load: never modified
            raise UnsafeModificationError(
                "joblib.numpy_pickle.NumpyArrayWrapper", "BUILD"
            )
        _PyUnpickler.load_build(self)
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
        if dtype.hasobject:
            return JoblibUnpickler(file, self.options.in_memory()).load()
        nbytes = math.prod(shape) * dtype.itemsize
        self._check_fits(nbytes)
        self.options.budget.charge(nbytes, f"an array of shape {shape}")
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
            if self.file_size is None and nbytes > GROW_MIN:
                grown = fill_growing(
                    nbytes,
                    lambda view: read_exact_into(file, view, self.where),
                    numpy=numpy,
                )
                array = grown.view(dtype)
            else:
                array = numpy.empty(math.prod(shape), dtype=dtype)
                read_exact_into(file, memoryview(array.view(numpy.uint8)), self.where)
            if order == "F":
                array = array.reshape(shape[::-1]).T
            else:
                array = array.reshape(shape)
            array = to_native(array)
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

    where = "the file"

    def find_class(self, module: str, name: str) -> Any:
        if module in JOBLIB_MODULES:
            raise _NeedsJoblibReader
        return find_class_or_format_error(super().find_class, module, name, self.where)


def load_pickle_stream(file: IO[bytes], options: LoadOptions) -> Any:
    """Load a plain pickle or joblib stream from ``file``."""
    where = options.where
    try:
        seekable = file.seekable()
    except (AttributeError, OSError, ValueError):
        seekable = False
    try:
        if options.allow is not None:
            from ._walk import Walk
            from ._walk_values import JoblibInput

            mode = "r+" if options.mmap_mode == "w+" else options.mmap_mode
            source = JoblibInput(options.path, mode, options.file_size)
            return Walk(file, where, options.budget, options.allow, joblib=source).run()
        if seekable:
            start = file.tell()
            try:
                sniffer = _SniffingUnpickler(file)
                sniffer.where = where
                return sniffer.load()
            except _NeedsJoblibReader:
                file.seek(start)
        return JoblibUnpickler(file, options).load()
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
