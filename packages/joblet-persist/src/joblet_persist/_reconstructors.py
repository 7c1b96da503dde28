"""The closed table of reconstructors for Python's own types.

Each entry takes the arguments a pickle gives a call of that global, checks
their types and sizes (charging the walk's budget before anything large is
made), and builds the value itself. Anything pickle never writes for that
global is refused. numpy's entries are in ``_numpy_rebuild``.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import SizeLimitError
from ._walk_values import SLOT_BYTES, BufferInfo, Pending

if TYPE_CHECKING:
    from ._walk import Walk

#: Most decimal digits of a number a reconstructor computes (Python's own
#: limit for ``int`` from a string).
MAX_INT_DIGITS = 4300
#: Bytes charged per object a reconstructor makes anew from a compact argument
#: (an int of a materialised range), besides the container's slot for it.
NEW_ITEM_BYTES = 32
_EXPONENT = re.compile(r"[eE]\s*([-+]?\d+)")
_ITERABLES = (list, tuple, set, frozenset, str, bytes, bytearray, range, dict)

Handler = Callable[["Walk", tuple[Any, ...], dict[str, Any]], Any]


def _args(walk: Walk, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
          most: int, least: int = 0) -> tuple[Any, ...]:  # fmt: skip
    if kwargs or not least <= len(args) <= most:
        raise walk.fail(f"{name} is called with {len(args)} arguments")
    return args


def _iterable(walk: Walk, value: Any, what: str) -> Any:
    if type(value) not in _ITERABLES:
        raise walk.fail(f"{what} is given a {type(value).__name__}")
    # a range or bytes materialised makes a new int per item, besides its slot
    per_item = NEW_ITEM_BYTES if type(value) in (range, bytes, bytearray) else 0
    walk.budget.charge((SLOT_BYTES + per_item) * len(value), what)
    return value


def _scalar(kind: type, *accepted: type) -> Handler:
    def build(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        args = _args(walk, kind.__name__, args, kwargs, 1)
        if args and type(args[0]) not in accepted:
            raise walk.fail(f"{kind.__name__} is given a {type(args[0]).__name__}")
        if args and isinstance(args[0], str):
            walk.budget.charge(len(args[0]), kind.__name__)
        return kind(*args)

    return build


def _int(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args = _args(walk, "int", args, kwargs, 2)
    if args and type(args[0]) not in (int, bool, str, float, decimal.Decimal):
        raise walk.fail(f"int is given a {type(args[0]).__name__}")
    if args and type(args[0]) is decimal.Decimal:
        _bound_digits(walk, args[0], "an int")
    if len(args) == 2 and (type(args[0]) is not str or type(args[1]) is not int):
        raise walk.fail("int with a base needs a string and an int")
    return int(*args)


def _complex(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args = _args(walk, "complex", args, kwargs, 2)
    if any(type(arg) not in (int, float, bool) for arg in args):
        raise walk.fail("complex is given something that is not a number")
    return complex(*args)


def _empty_unless_given(
    kind: type, most: int, build: Callable[[Walk, tuple[Any, ...]], Any]
) -> Handler:
    """``kind()`` called without arguments is empty; with up to ``most``, ``build``."""

    def handler(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        args = _args(walk, kind.__name__, args, kwargs, most)
        return build(walk, args) if args else kind()

    return handler


def _bytes_like(kind: type) -> Handler:
    def build(walk: Walk, args: tuple[Any, ...]) -> Any:
        first = args[0]
        if type(first) is int:
            walk.budget.charge(first, f"a zero-filled {kind.__name__}")
            return kind(first)
        if type(first) is str and len(args) >= 2:
            if not all(type(arg) is str for arg in args):
                raise walk.fail(f"{kind.__name__} of a string needs an encoding")
            walk.budget.charge(len(first), kind.__name__)
            return kind(*args)
        if len(args) == 1 and isinstance(first, BufferInfo):
            return first  # an out-of-band buffer, in a dry walk
        if len(args) != 1 or type(first) not in (
            bytes, bytearray, memoryview, list, tuple
        ):  # fmt: skip
            raise walk.fail(f"{kind.__name__} is given a {type(first).__name__}")
        if type(first) in (list, tuple) and any(type(n) is not int for n in first):
            raise walk.fail(f"{kind.__name__} is given a list of non-integers")
        walk.budget.charge(len(first), kind.__name__)
        return kind(first)

    return _empty_unless_given(kind, 3, build)


def _encode(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``_codecs.encode(text, 'latin1')``: how protocols 0 to 2 store bytes."""
    args = _args(walk, "_codecs.encode", args, kwargs, 2, 1)
    text = args[0]
    encoding = args[1] if len(args) == 2 else "utf-8"
    if type(text) is not str or encoding not in ("latin1", "latin-1", "utf-8"):
        raise walk.fail("_codecs.encode is given something pickle never writes")
    walk.budget.charge(len(text), "bytes")
    return text.encode(encoding)


def _collection(kind: type) -> Handler:
    def build(walk: Walk, args: tuple[Any, ...]) -> Any:
        return kind(_iterable(walk, args[0], kind.__name__))

    return _empty_unless_given(kind, 1, build)


def _dict(kind: type) -> Handler:
    def build(walk: Walk, args: tuple[Any, ...]) -> Any:
        items = args[0]
        if type(items) is dict:
            walk.budget.charge(2 * SLOT_BYTES * len(items), kind.__name__)
            return kind(items)
        if type(items) not in (list, tuple) or any(
            type(pair) not in (list, tuple) or len(pair) != 2 for pair in items
        ):
            raise walk.fail(f"{kind.__name__} is given something other than pairs")
        walk.budget.charge(2 * SLOT_BYTES * len(items), kind.__name__)
        return kind(items)

    return _empty_unless_given(kind, 1, build)


def _deque(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args = _args(walk, "deque", args, kwargs, 2)
    items = _iterable(walk, args[0], "deque") if args else ()
    maxlen = args[1] if len(args) == 2 else None
    if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
        raise walk.fail("deque is given an invalid maxlen")
    return collections.deque(items, maxlen)


def _ints(
    name: str, kind: Callable[..., Any], most: int, none: bool = False
) -> Handler:
    accepted = (int, bool, type(None)) if none else (int, bool)

    def build(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        args = _args(walk, name, args, kwargs, most, 1)
        if any(type(arg) not in accepted for arg in args):
            raise walk.fail(f"{name} is given something that is not an integer")
        return kind(*args)

    return build


def _time_like(kind: type, state_bytes: int, most: int) -> Handler:
    """``datetime(b'state'[, tz])`` or ``datetime(year, month, ...)``."""

    def build(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        args = _args(walk, kind.__name__, args, kwargs, most, 1)
        first, rest = args[0], args[1:]
        if type(first) in (bytes, str):
            if len(first) != state_bytes or len(rest) > 1:
                raise walk.fail(
                    f"{kind.__name__} is given a state of {len(first)} bytes"
                )
            if type(first) is str:
                first = first.encode("latin1")
        elif type(first) is not int or any(
            type(arg) is not int for arg in rest if not _is_tz(arg)
        ):
            raise walk.fail(f"{kind.__name__} is given something pickle never writes")
        if any(not _is_tz(arg) and type(arg) is not int for arg in rest):
            raise walk.fail(f"{kind.__name__} is given an invalid time zone")
        return kind(first, *rest)

    return build


def _is_tz(value: Any) -> bool:
    return value is None or type(value) is datetime.timezone


def _timezone(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args = _args(walk, "timezone", args, kwargs, 2, 1)
    if type(args[0]) is not datetime.timedelta or (
        len(args) == 2 and type(args[1]) is not str
    ):
        raise walk.fail("timezone is given something pickle never writes")
    return datetime.timezone(*args)


def _bound_digits(walk: Walk, value: Any, what: str) -> None:
    """Refuse a number whose exact value has more than MAX_INT_DIGITS digits."""
    if type(value) is decimal.Decimal:
        digits = abs(value.adjusted()) + 1 if value.is_finite() else 0
    else:
        digits = _digits(value)
    if digits > MAX_INT_DIGITS:
        raise SizeLimitError(
            f"refused {what} of {digits:,} digits in {walk.where}: above the limit "
            f"of {MAX_INT_DIGITS:,} digits (the file is damaged or malicious)"
        )


def _digits(text: str) -> int:
    match = _EXPONENT.search(text)
    if match and len(match.group(1)) >= 12:
        return MAX_INT_DIGITS + 1
    exponent = abs(int(match.group(1))) if match else 0
    return max(exponent, sum(c.isdigit() for c in text))


def _decimal(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args = _args(walk, "Decimal", args, kwargs, 1)
    if args and type(args[0]) not in (str, int):
        raise walk.fail(f"Decimal is given a {type(args[0]).__name__}")
    if args and type(args[0]) is str:
        walk.budget.charge(len(args[0]), "a Decimal")
    return decimal.Decimal(*args)


def _fraction(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args = _args(walk, "Fraction", args, kwargs, 2)
    if any(type(arg) not in (int, str, decimal.Decimal) for arg in args) or (
        len(args) == 2 and any(type(arg) is not int for arg in args)
    ):
        raise walk.fail("Fraction is given something pickle never writes")
    if args and type(args[0]) in (str, decimal.Decimal):
        _bound_digits(walk, args[0], "a Fraction")
    return fractions.Fraction(*args)


class _PendingUUID(Pending):
    def finish(self, walk: Walk, state: Any) -> Any:
        if (
            type(state) is not dict
            or set(state) != {"int"}
            or type(state["int"]) is not int
        ):
            raise walk.fail("a UUID's state is not {'int': <int>}")
        if not 0 <= state["int"] < 1 << 128:
            raise walk.fail("a UUID's integer is out of range")
        return uuid.UUID(int=state["int"])


def _uuid_new(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _args(walk, "UUID", args, kwargs, 0)
    return _PendingUUID()


def _object_reconstructor(
    walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``copyreg._reconstructor(cls, object, None)``: protocols 0 and 1 instances."""
    args = _args(walk, "copyreg._reconstructor", args, kwargs, 3, 3)
    cls, base, state = args
    if walk.name_of(base) != "builtins.object" or state is not None:
        raise walk.fail("copyreg._reconstructor is given a base other than object")
    return walk.call(cls, (), {}, new=True)


def _refuse_call(walk: Walk, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    raise walk.fail("it calls builtins.object")


#: REDUCE (and INST, OBJ) of these names.
CALLS: dict[str, Handler] = {
    "builtins.bool": _scalar(bool, bool, int),
    "builtins.int": _int,
    "builtins.float": _scalar(float, float, int, str),
    "builtins.str": _scalar(str, str),
    "builtins.complex": _complex,
    "builtins.bytes": _bytes_like(bytes),
    "builtins.bytearray": _bytes_like(bytearray),
    "_codecs.encode": _encode,
    "builtins.tuple": _collection(tuple),
    "builtins.list": _collection(list),
    "builtins.set": _collection(set),
    "builtins.frozenset": _collection(frozenset),
    "builtins.dict": _dict(dict),
    "builtins.range": _ints("range", range, 3),
    "builtins.slice": _ints("slice", slice, 3, none=True),
    "builtins.object": _refuse_call,
    "collections.OrderedDict": _dict(collections.OrderedDict),
    "collections.deque": _deque,
    "copyreg._reconstructor": _object_reconstructor,
    "datetime.date": _time_like(datetime.date, 4, 3),
    "datetime.datetime": _time_like(datetime.datetime, 10, 8),
    "datetime.time": _time_like(datetime.time, 6, 5),
    "datetime.timedelta": _ints("timedelta", datetime.timedelta, 3),
    "datetime.timezone": _timezone,
    "decimal.Decimal": _decimal,
    "fractions.Fraction": _fraction,
}

#: NEWOBJ (``cls.__new__(cls, *args)`` then BUILD) of these names.
NEW: dict[str, Handler] = {
    "uuid.UUID": _uuid_new,
}
