"""A numpy dtype's BUILD state, accepted only when numpy itself would write it.

numpy's ``dtype.__setstate__`` believes any state (element size, flags, field
offsets), and an array using such a dtype reads outside its buffer or takes
bytes for object pointers; applied to a dtype numpy shares (``dtype('S')``), it
changes that dtype for the whole process. So a state is never applied: a fresh
dtype is made by the public constructors from the state's fields (which numpy
validates), and accepted only if numpy's own pickle of it has exactly these
constructor arguments and this state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import FormatError

if TYPE_CHECKING:
    from ._walk import Walk

# numpy dtype flag: the fields are laid out as a C compiler would (align=True)
_ALIGNED_STRUCT = 0x80
_REFUSED = (TypeError, ValueError, KeyError, IndexError, AttributeError,
            UnicodeError, SyntaxError, OverflowError)  # fmt: skip


def _refuse(walk: Walk, state: Any, reason: str) -> FormatError:
    return walk.fail(
        f"refused a numpy dtype state {state!r:.200}: {reason}; only the states "
        "numpy itself writes are accepted"
    )


def rebuild_dtype(walk: Walk, base: Any, args: tuple[Any, ...], state: Any) -> Any:
    """The dtype that ``base`` (made from ``args``) with the BUILD ``state`` stands for."""
    numpy = walk.numpy()
    if (
        not isinstance(state, tuple)
        or len(state) not in (8, 9)
        or state[0] not in (3, 4)
    ):
        raise _refuse(walk, state, "not a dtype state of version 3 or 4")
    _, byteorder, subarray, names, fields, elsize, _, flags = state[:8]
    extra = state[8] if len(state) == 9 else None
    try:
        if names is not None:
            candidate = _structured(numpy, names, fields, elsize, flags)
        elif subarray is not None:
            sub_base, shape = subarray
            if not isinstance(sub_base, numpy.dtype):
                raise TypeError("a subarray's base is not a dtype")
            candidate = numpy.dtype((sub_base, shape))
        else:
            candidate = numpy.dtype(base)
            if isinstance(extra, tuple) and len(extra) == 2 and extra[1] is not None:
                unit, num, _, _ = extra[1]
                candidate = numpy.dtype(f"{args[0]}[{int(num)}{unit.decode('ascii')}]")
            if byteorder in ("<", ">") and candidate.byteorder != "|":
                candidate = candidate.newbyteorder(byteorder)
        metadata = extra[0] if isinstance(extra, tuple) else extra
        if isinstance(metadata, dict):
            candidate = numpy.dtype(candidate, metadata=metadata)
        # the arguments numpy itself gives ``base`` (whatever copy flag the stream set)
        same = candidate.__reduce__()[1:] == (base.__reduce__()[1], state)
    except _REFUSED as exc:
        raise _refuse(walk, state, f"numpy refuses it ({exc})") from None
    if not same:
        raise _refuse(walk, state, "it is not the state numpy gives that dtype")
    return candidate


def _structured(numpy: Any, names: Any, fields: Any, elsize: Any, flags: Any) -> Any:
    if not isinstance(names, tuple) or not isinstance(fields, dict):
        raise TypeError("names must be a tuple and fields a dict")
    formats, offsets, titles = [], [], []
    for name in names:
        entry = fields[name]
        if not isinstance(entry, tuple) or len(entry) not in (2, 3):
            raise TypeError(f"field {name!r} is not (dtype, offset[, title])")
        if not isinstance(entry[0], numpy.dtype) or type(entry[1]) is not int:
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
