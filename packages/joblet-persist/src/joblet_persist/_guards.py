"""What a restricted load checks when allowed globals are called or BUILT.

An allow-list decides what a pickle may import; these checks decide what it may
do with it. Two kinds:

* memory safety: a ``numpy.dtype`` only ever comes from its constructor
  arguments (a BUILD state is accepted only if it is exactly the state numpy
  gives that dtype, see :func:`rebuild_dtype`), and no array is made of raw
  bytes with an object dtype (numpy would read them as pointers);
* size: calls of allowed globals that build far more than the pickle holds
  (``list(range(3 * 10**8))``, ``bytes(10**12)``, ``int(Decimal('1e999999999'))``)
  are refused above :data:`MAX_MATERIALISED_ITEMS` items or
  :data:`MAX_INT_DIGITS` digits. Other CPU and memory use of what the allowed
  types do is not bounded.
"""

from __future__ import annotations

import collections
import copyreg
import decimal
import fractions
import math
import re
import sys
from collections.abc import Callable
from typing import Any

from ._errors import FormatError, SizeLimitError

#: Most items a restricted load materialises from a ``range`` (or array) given
#: to a container constructor, most zero bytes of ``bytes(n)``/``bytearray(n)``,
#: and most elements of an array allocated without a buffer.
MAX_MATERIALISED_ITEMS = 10**6
#: Most decimal digits of an ``int`` a restricted load computes from a string,
#: a ``Decimal`` or a ``Fraction`` exponent (Python's own ``int`` string limit).
MAX_INT_DIGITS = 4300

# numpy dtype flag: the fields are laid out as a C compiler would (align=True)
_ALIGNED_STRUCT = 0x80
_EXPONENT = re.compile(r"[eE]\s*([-+]?\d+)")
_CONCRETE = (list, tuple, dict, set, frozenset, str, bytes, bytearray)

Guard = Callable[[tuple[Any, ...], dict[str, Any]], None]


def _too_many(what: str, count: int | str, limit: int, unit: str = "items") -> None:
    raise SizeLimitError(
        f"refused {what}: it would build {count} {unit}, above the restricted "
        f"load's limit of {limit} (the file is damaged or malicious; load it "
        "without allowed_globals only if you trust it)"
    )


def _check_buffer(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``bytes(n)``, ``bytearray(range(n))``: bounded by byte count."""
    if args and isinstance(args[0], int) and args[0] > MAX_MATERIALISED_ITEMS:
        _too_many("a zero-filled buffer", args[0], MAX_MATERIALISED_ITEMS, "bytes")
    _check_materialised(args, kwargs)


def _check_materialised(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``list(range(n))``, ``tuple(array)`` ...: bounded by item count."""
    for arg in (*args, *kwargs.values()):
        if not isinstance(arg, _CONCRETE) and hasattr(arg, "__len__"):
            try:
                count = len(arg)
            except (OverflowError, TypeError, ValueError):
                count = MAX_MATERIALISED_ITEMS + 1
            if count > MAX_MATERIALISED_ITEMS:
                _too_many(
                    f"materialising a {type(arg).__name__}",
                    count,
                    MAX_MATERIALISED_ITEMS,
                )


def _digits_of(value: Any) -> int:
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return abs(value.adjusted()) + 1
    if isinstance(value, (str, bytes, bytearray)):
        text = (
            value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else value
        )
        match = _EXPONENT.search(text)
        exponent = abs(int(match.group(1))) if match and len(match.group(1)) < 12 else 0
        if match and len(match.group(1)) >= 12:
            return MAX_INT_DIGITS + 1
        return max(exponent, sum(c.isdigit() for c in text))
    return 0


def _check_number(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``int(Decimal('1e999999999'))``, ``Fraction('1e999999999')``: bounded by digits."""
    for arg in (*args, *kwargs.values()):
        digits = _digits_of(arg)
        if digits > MAX_INT_DIGITS:
            _too_many(
                f"a number from {type(arg).__name__}", digits, MAX_INT_DIGITS, "digits"
            )


def _array_dtype(numpy: Any, dtype: Any) -> Any:
    try:
        return numpy.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"a pickled array names an invalid dtype: {exc}") from exc


def _check_ndarray(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``ndarray(shape, dtype, buffer, ...)``: no object dtype over raw bytes."""
    numpy = sys.modules["numpy"]
    names = ("shape", "dtype", "buffer", "offset", "strides", "order")
    bound = dict(zip(names, args, strict=False)) | kwargs
    dtype = _array_dtype(numpy, bound.get("dtype", float))
    if bound.get("buffer") is not None:
        if dtype.hasobject:
            raise FormatError(
                f"refused an array of dtype {dtype} over a raw buffer: numpy would "
                "read the bytes as object pointers (the file is damaged or malicious)"
            )
        return
    _check_shape(bound.get("shape", ()))


def _check_shape(shape: Any) -> None:
    dims = (shape,) if isinstance(shape, int) else shape
    try:
        count = math.prod(int(n) for n in dims)
    except TypeError as exc:
        raise FormatError(f"a pickled array has an invalid shape {shape!r}") from exc
    if count > MAX_MATERIALISED_ITEMS:
        _too_many("allocating an array without data", count, MAX_MATERIALISED_ITEMS)


def _check_reconstruct(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """numpy's ``_reconstruct(subtype, shape, dtype)`` allocates ``shape``."""
    if len(args) >= 2:
        _check_shape(args[1])


def _check_reconstructor(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``copyreg._reconstructor(cls, base, state)`` calls ``base(state)``."""
    if len(args) == 3 and isinstance(args[1], type):
        guard = guard_for(args[1])
        if guard is not None:
            guard((args[2],), {})


_GUARDS: dict[int, tuple[Any, Guard]] = {}
_GUARDS_WITH_NUMPY = False


def _build_guards() -> None:
    global _GUARDS_WITH_NUMPY
    table: list[tuple[Any, Guard]] = [
        (int, _check_number),
        (fractions.Fraction, _check_number),
        (copyreg._reconstructor, _check_reconstructor),  # type: ignore[attr-defined]
    ]
    for container in (list, tuple, set, frozenset, dict, collections.deque):
        table.append((container, _check_materialised))
    table += [(bytes, _check_buffer), (bytearray, _check_buffer)]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        table.append((numpy.ndarray, _check_ndarray))
        multiarray = getattr(numpy, "_core", None) or numpy.core
        table.append((multiarray.multiarray._reconstruct, _check_reconstruct))
    _GUARDS_WITH_NUMPY = numpy is not None
    # (object, guard) pairs keep the objects alive, so their ids stay theirs
    _GUARDS.update({id(obj): (obj, guard) for obj, guard in table})


def guard_for(func: Any) -> Guard | None:
    """The check to run before calling ``func`` (or any class derived from a guarded one)."""
    if not _GUARDS or (not _GUARDS_WITH_NUMPY and "numpy" in sys.modules):
        _build_guards()
    candidates = func.__mro__ if isinstance(func, type) else (func,)
    for candidate in candidates:
        found = _GUARDS.get(id(candidate))
        if found is not None and found[0] is candidate:
            return found[1]
    return None


def _refuse_dtype_state(state: Any, reason: str) -> FormatError:
    return FormatError(
        f"refused a numpy dtype state {state!r:.200}: {reason}. A restricted load "
        "accepts only the states numpy itself writes (the file is damaged or malicious)"
    )


def rebuild_dtype(numpy: Any, target: Any, state: Any) -> Any:
    """The dtype that ``target`` with the BUILD ``state`` stands for, built from scratch.

    numpy's ``dtype.__setstate__`` believes any state (element size, flags,
    field offsets), and an array using such a dtype reads outside its buffer or
    takes bytes for object pointers. So the state is never applied: a dtype is
    made from the public constructors out of the state's fields (which numpy
    validates), and accepted only if numpy's own pickle of it has exactly these
    constructor arguments and this state.
    """
    if (
        not isinstance(state, tuple)
        or len(state) not in (8, 9)
        or state[0] not in (3, 4)
    ):
        raise _refuse_dtype_state(state, "not a dtype state of version 3 or 4")
    args = target.__reduce__()[1]
    _, byteorder, subarray, names, fields, elsize, _, flags = state[:8]
    extra = state[8] if len(state) == 9 else None
    try:
        if names is not None:
            candidate = _structured(numpy, names, fields, elsize, flags)
        elif subarray is not None:
            base, shape = subarray
            candidate = numpy.dtype((base, shape))
        else:
            candidate = numpy.dtype(args[0])
            if isinstance(extra, tuple) and len(extra) == 2 and extra[1] is not None:
                unit, num, _, _ = extra[1]
                candidate = numpy.dtype(f"{args[0]}[{int(num)}{unit.decode('ascii')}]")
            if byteorder in ("<", ">") and candidate.byteorder != "|":
                candidate = candidate.newbyteorder(byteorder)
        metadata = extra[0] if isinstance(extra, tuple) else extra
        if isinstance(metadata, dict):
            candidate = numpy.dtype(candidate, metadata=metadata)
    except (
        TypeError,
        ValueError,
        KeyError,
        IndexError,
        AttributeError,
        UnicodeError,
    ) as exc:
        raise _refuse_dtype_state(state, f"numpy refuses it ({exc})") from exc
    if candidate.__reduce__()[1:] != (args, state):
        raise _refuse_dtype_state(state, "it is not the state numpy gives that dtype")
    return candidate


def _structured(numpy: Any, names: Any, fields: Any, elsize: Any, flags: Any) -> Any:
    if not isinstance(names, tuple) or not isinstance(fields, dict):
        raise TypeError("names must be a tuple and fields a dict")
    formats, offsets, titles = [], [], []
    for name in names:
        entry = fields[name]
        if not isinstance(entry, tuple) or len(entry) not in (2, 3):
            raise TypeError(f"field {name!r} is not (dtype, offset[, title])")
        formats.append(entry[0])
        offsets.append(entry[1])
        titles.append(entry[2] if len(entry) == 3 else None)
    spec: dict[str, Any] = {
        "names": list(names),
        "formats": formats,
        "offsets": offsets,
        "itemsize": elsize,
    }
    if any(title is not None for title in titles):
        spec["titles"] = titles
    return numpy.dtype(spec, align=bool(int(flags) & _ALIGNED_STRUCT))
