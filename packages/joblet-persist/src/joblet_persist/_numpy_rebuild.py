"""numpy's entries of the reconstructor table: dtypes, scalars and arrays.

No argument of the stream reaches a numpy constructor or ``__setstate__``
unchecked. A dtype is made by numpy's public constructor from a string, with
``copy=True`` (never a shared singleton), and its BUILD state is accepted only
when it is exactly the state numpy gives the rebuilt dtype (``_dtype_state``).
An array is made from a validated description: a dtype this walk rebuilt, a
shape of non-negative ints, an order, and a byte count compared with its
buffer before anything is allocated; object dtypes never come from raw bytes.
joblet's and joblib's array records are in ``_array_records``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ._array_records import (
    RECORD_CALLS,
    RECORD_NEW,
    array_info,
    check_dtype,
    check_shape,
    subclass_of,
)
from ._dtype_state import rebuild_dtype
from ._walk_values import BufferInfo, Pending

if TYPE_CHECKING:
    from ._walk import Walk


def _dtype(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if kwargs or not 1 <= len(args) <= 3 or type(args[0]) is not str:
        raise walk.fail("numpy.dtype is called with something pickle never writes")
    if len(args[0]) > 64 or any(type(flag) is not bool for flag in args[1:]):
        raise walk.fail(f"numpy.dtype is given {args!r:.80}")
    numpy = walk.numpy()
    try:
        base = numpy.dtype(args[0], align=bool(args[1]) if len(args) > 1 else False,
                           copy=True)  # fmt: skip
    except (TypeError, ValueError, SyntaxError) as exc:
        raise walk.fail(f"numpy refuses the dtype {args[0]!r:.40} ({exc})") from None
    return _PendingDtype(base, args)


class _PendingDtype(Pending):
    def __init__(self, base: Any, args: tuple[Any, ...]) -> None:
        self.base = base
        self.args = args

    def finish(self, walk: Walk, state: Any) -> Any:
        return rebuild_dtype(walk, self.base, self.args, state)


def _scalar(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if kwargs or len(args) != 2:
        raise walk.fail("numpy's scalar is called with something pickle never writes")
    dtype = check_dtype(walk, args[0], "a numpy scalar")
    data = args[1]
    if dtype.hasobject or type(data) is not bytes or len(data) != dtype.itemsize:
        raise walk.fail(
            f"a numpy scalar of dtype {dtype} is given {type(data).__name__} data"
        )
    if walk.dry:
        return BufferInfo(len(data), "scalar")
    multiarray = getattr(walk.numpy(), "_core", None) or walk.numpy().core
    return multiarray.multiarray.scalar(dtype, data)


def _reconstruct(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``_reconstruct(ndarray, (0,), b'b')``: an array whose BUILD gives it all."""
    if kwargs or len(args) != 3:
        raise walk.fail(
            "numpy's _reconstruct is called with something pickle never writes"
        )
    return _PendingArray(subclass_of(walk, args[0], "an array"))


class _PendingArray(Pending):
    def __init__(self, subclass: Any) -> None:
        self.subclass = subclass

    def finish(self, walk: Walk, state: Any) -> Any:
        if type(state) is not tuple or len(state) != 5 or state[0] != 1:
            raise walk.fail("an array's state is not (1, shape, dtype, fortran, data)")
        _, shape, dtype, fortran, data = state
        shape = check_shape(walk, shape, "an array")
        dtype = check_dtype(walk, dtype, "an array")
        if type(fortran) is not bool:
            raise walk.fail("an array's order flag is not a bool")
        order = "F" if fortran else "C"
        count = math.prod(shape)
        if dtype.hasobject:
            return _object_array(walk, dtype, shape, order, data, count, self.subclass)
        if type(data) not in (bytes, bytearray) or len(data) != count * dtype.itemsize:
            raise walk.fail(
                f"an array of shape {shape} and dtype {dtype} needs "
                f"{count * dtype.itemsize} bytes; its data is {type(data).__name__} "
                f"of {len(data) if isinstance(data, (bytes, bytearray)) else '?'}"
            )
        walk.budget.charge(len(data), f"an array of shape {shape}")
        if walk.dry:
            return array_info(walk, dtype, shape, order, len(data))
        numpy = walk.numpy()
        flat = numpy.frombuffer(data, dtype=dtype, count=count)
        array = flat.reshape(shape, order=order).copy(order=order)
        if not dtype.isnative and dtype.names is None:
            # numpy's own unpickling gives such arrays in native order
            array = array.byteswap().view(dtype.newbyteorder("="))
        return array if self.subclass is None else array.view(self.subclass)


def _object_array(walk: Walk, dtype: Any, shape: tuple[int, ...], order: str,
                  data: Any, count: int, subclass: Any) -> Any:  # fmt: skip
    if dtype.subdtype is not None:
        raise walk.fail(f"refused an array of subarray dtype {dtype}")
    if type(data) is not list or len(data) != count:
        raise walk.fail(
            f"an object array of {count} items holds {type(data).__name__} data"
        )
    walk.budget.charge(8 * count, f"an object array of shape {shape}")
    if walk.dry:
        return array_info(walk, dtype, shape, order, 8 * count)
    numpy = walk.numpy()
    flat = numpy.empty(count, dtype=dtype)
    for index, item in enumerate(data):
        flat[index] = item
    array = flat.reshape(shape, order=order)
    return array if subclass is None else array.view(subclass)


def _frombuffer(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``_frombuffer(buffer, dtype, shape, order)``: numpy's protocol-5 arrays."""
    if kwargs or len(args) != 4:
        raise walk.fail(
            "numpy's _frombuffer is called with something pickle never writes"
        )
    buffer, dtype, shape, order = args
    dtype = check_dtype(walk, dtype, "an array")
    shape = check_shape(walk, shape, "an array")
    if dtype.hasobject or order not in ("C", "F"):
        raise walk.fail(f"refused an array of dtype {dtype} and order {order!r:.10}")
    nbytes = _nbytes(walk, buffer)
    if nbytes != math.prod(shape) * dtype.itemsize:
        raise walk.fail(
            f"an array of shape {shape} and dtype {dtype} needs "
            f"{math.prod(shape) * dtype.itemsize} bytes, its buffer holds {nbytes}"
        )
    if walk.dry:
        return array_info(walk, dtype, shape, order, nbytes)
    numpy = walk.numpy()
    flat = numpy.frombuffer(buffer, dtype=dtype)
    return flat.reshape(shape, order=order)


def _nbytes(walk: Walk, buffer: Any) -> int:
    if isinstance(buffer, BufferInfo):
        return buffer.nbytes
    if isinstance(buffer, (bytes, bytearray, memoryview)):
        return memoryview(buffer).nbytes
    numpy = walk.numpy()
    if type(buffer) is numpy.ndarray and buffer.dtype == numpy.uint8:
        return int(buffer.nbytes)
    raise walk.fail(f"an array's buffer is a {type(buffer).__name__}")


_MULTIARRAY = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMERIC = ("numpy.core.numeric", "numpy._core.numeric")

NUMPY_CALLS = {
    "numpy.dtype": _dtype,
    **{f"{module}._reconstruct": _reconstruct for module in _MULTIARRAY},
    **{f"{module}.scalar": _scalar for module in _MULTIARRAY},
    **{f"{module}._frombuffer": _frombuffer for module in _NUMERIC},
    **RECORD_CALLS,
}
NUMPY_NEW = dict(RECORD_NEW)
