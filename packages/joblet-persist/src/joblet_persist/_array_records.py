"""joblet's and joblib's array records, rebuilt from validated descriptions.

* joblet: ``rebuild_array(buffer, dtype, shape, order, subclass)`` over an
  out-of-band buffer, whose size must be exactly what dtype and shape need.
* joblib: a ``NumpyArrayWrapper`` whose BUILD state describes the array whose
  raw bytes follow in the file (an object array: a nested pickle stream,
  walked by the same walk). Its size is checked against what is left of the
  file and charged to the budget before the array is allocated.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ._errors import TruncatedFileError
from ._io import read_exact_into
from ._walk_values import BufferInfo, Pending

if TYPE_CHECKING:
    from ._walk import Walk

_ARRAY_CLASSES = ("numpy.ndarray", "numpy.memmap")


def check_dtype(walk: Walk, dtype: Any, what: str) -> Any:
    """``dtype`` when it is a numpy dtype (every dtype a walk holds was rebuilt)."""
    numpy = walk.numpy()
    if not isinstance(dtype, numpy.dtype):
        raise walk.fail(f"{what} has a dtype that is a {type(dtype).__name__}")
    return dtype


def check_shape(walk: Walk, shape: Any, what: str) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints (at most 64 dimensions)."""
    if type(shape) is int:
        shape = (shape,)
    if type(shape) not in (tuple, list) or len(shape) > 64:
        raise walk.fail(f"{what} has an invalid shape {shape!r:.80}")
    if any(type(n) is not int or n < 0 for n in shape):
        raise walk.fail(f"{what} has an invalid shape {shape!r:.80}")
    return tuple(shape)


def subclass_of(walk: Walk, cls: Any, what: str) -> Any:
    """None for ndarray and memmap (a plain array), else a class the user allowed."""
    if cls is None:
        return None
    name = walk.name_of(cls)
    if name in _ARRAY_CLASSES:
        return None
    if name is None or name in walk.calls or name in walk.news:
        raise walk.fail(f"{what} names a subclass that is not an allowed class")
    return cls


# joblib's keys, and the padding joblet's joblib writer adds for alignment
_JOBLIB_KEYS = frozenset(
    {"subclass", "shape", "order", "dtype", "allow_mmap",
     "numpy_array_alignment_bytes", "_joblet_alignment_padding"}
)  # fmt: skip
_SKIP_STEP = 1 << 20


def array_info(walk: Walk, dtype: Any, shape: tuple[int, ...], order: str,
               nbytes: int) -> BufferInfo:  # fmt: skip
    """Record an array a dry walk would build; its stand-in."""
    walk.found.arrays.append(
        {
            "dtype": dtype.str if dtype.names is None else str(dtype.descr),
            "shape": shape,
            "order": order,
            "nbytes": nbytes,
        }
    )
    return BufferInfo(nbytes, "array")


def _rebuild_array(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from ._numpy_io import MappedSlot, rebuild_array

    if kwargs or len(args) != 5:
        raise walk.fail("rebuild_array is called with something joblet never writes")
    buffer, dtype, shape, order, subclass = args
    dtype = check_dtype(walk, dtype, "an array")
    shape = check_shape(walk, shape, "an array")
    subclass = subclass_of(walk, subclass, "an array")
    if order not in ("C", "F"):
        raise walk.fail(f"an array has an invalid order {order!r:.10}")
    if walk.dry:
        if not isinstance(buffer, BufferInfo):
            raise walk.fail("an array's buffer is not an out-of-band buffer")
        needed = math.prod(shape) * dtype.itemsize
        if dtype.hasobject or needed != buffer.nbytes:
            raise walk.fail(
                f"an array of shape {shape} and dtype {dtype} needs {needed} bytes, "
                f"its buffer holds {buffer.nbytes}"
            )
        return array_info(walk, dtype, shape, order, needed)
    if not isinstance(buffer, (bytearray, memoryview, MappedSlot)):
        numpy = walk.numpy()
        if type(buffer) is not numpy.ndarray or buffer.dtype != numpy.uint8:
            raise walk.fail("an array's buffer is not an out-of-band buffer")
    return rebuild_array(buffer, dtype, shape, order, subclass)


class _PendingJoblibArray(Pending):
    def finish(self, walk: Walk, state: Any) -> Any:

        if (
            type(state) is not dict
            or not set(state) <= _JOBLIB_KEYS
            or not {"shape", "dtype"} <= set(state)
        ):
            raise walk.fail("a joblib array record's state is not joblib's")
        dtype = check_dtype(walk, state["dtype"], "a joblib array")
        shape = check_shape(walk, state["shape"], "a joblib array")
        order = state.get("order", "C")
        if order not in ("C", "F"):
            raise walk.fail(f"a joblib array has an invalid order {order!r:.10}")
        subclass = subclass_of(walk, state.get("subclass"), "a joblib array")
        if dtype.hasobject:
            array = walk.nested()
            numpy = None if walk.dry else walk.numpy()
            if numpy is not None and (
                type(array) is not numpy.ndarray or array.dtype != dtype
            ):
                raise walk.fail("a joblib object array's stream is not that array")
            return array
        aligned = state.get("numpy_array_alignment_bytes") is not None
        if aligned:
            pad = _read(walk, 1, "an array's padding")
            _read(walk, pad[0], "an array's padding")
        nbytes = math.prod(shape) * dtype.itemsize
        _check_fits(walk, nbytes)
        if walk.dry:
            _skip(walk, nbytes)
            return array_info(walk, dtype, shape, order, nbytes)
        walk.budget.charge(nbytes, f"a joblib array of shape {shape}")
        array = _read_array(walk, dtype, shape, order, nbytes, state)
        return array if subclass is None else array.view(subclass)


def _read_array(walk: Walk, dtype: Any, shape: tuple[int, ...], order: str,
                nbytes: int, state: dict[str, Any]) -> Any:  # fmt: skip
    from ._numpy_io import map_array

    source = walk.joblib
    file = walk.file
    if (
        source.mmap_mode is not None
        and source.path is not None
        and state.get("allow_mmap")
    ):
        offset = file.tell()
        array = map_array(source.path, dtype, source.mmap_mode, offset, shape, order)
        file.seek(offset + nbytes)
        return array
    numpy = walk.numpy()
    array = numpy.empty(math.prod(shape), dtype=dtype)
    read_exact_into(file, memoryview(array.view(numpy.uint8)), walk.where)
    if order == "F":
        return array.reshape(shape[::-1]).T
    return array.reshape(shape)


def _check_fits(walk: Walk, nbytes: int) -> None:
    """Refuse an array larger than what is left of the file, before allocating it."""
    size = walk.joblib.file_size
    if size is None:
        return  # a stream: the budget bounds it, and its end is found as it is read
    left = size - walk.file.tell()
    if nbytes > left:
        raise TruncatedFileError(
            f"{walk.where} is truncated or damaged: an array announces {nbytes:,} "
            f"bytes, but only {left:,} bytes of the file are left. Dump the data again."
        )


def _read(walk: Walk, n: int, what: str) -> bytes:
    data = walk.file.read(n)
    if len(data) != n:
        raise TruncatedFileError(f"{walk.where} is truncated inside {what}")
    return data


def _skip(walk: Walk, n: int) -> None:
    while n:
        data = walk.file.read(min(n, _SKIP_STEP))
        if not data:
            raise TruncatedFileError(
                f"{walk.where} is truncated: it ends inside the data of an array. "
                "Dump the data again."
            )
        n -= len(data)


def _joblib_new(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if args or kwargs:
        raise walk.fail("joblib's NumpyArrayWrapper is made with arguments")
    return _PendingJoblibArray()


def _value_only(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    raise walk.fail("it calls numpy.ndarray or numpy.memmap, which pickle never writes")


_JOBLIB = ("joblib.numpy_pickle", "sklearn.externals.joblib.numpy_pickle")

RECORD_CALLS = {
    "joblet_persist._numpy_io.rebuild_array": _rebuild_array,
    "numpy.ndarray": _value_only,
    "numpy.memmap": _value_only,
}
RECORD_NEW = {f"{module}.NumpyArrayWrapper": _joblib_new for module in _JOBLIB}
