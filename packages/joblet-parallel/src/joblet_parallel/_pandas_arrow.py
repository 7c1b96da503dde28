"""pandas columns backed by Arrow, sent without pandas' copy.

``ArrowExtensionArray.__getstate__`` (pandas' Arrow-backed columns, the
``str`` dtype of pandas 3 among them) combines the column's chunks into a new
array each time it is pickled: a copy per batch, whose buffers then have to
be hashed again to be recognised as already written. Sent as its chunked
array, the column's own buffers travel, memory-mapped and written once per
call like those of a ``pyarrow.Table``.
"""

from __future__ import annotations

from typing import Any


def is_arrow_extension_array(obj: Any) -> bool:
    """Whether ``obj`` is a pandas ``ArrowExtensionArray`` (or a subclass),
    holding its data as a chunked array; pandas is not imported."""
    for cls in type(obj).__mro__:
        if cls.__name__ == "ArrowExtensionArray" and cls.__module__.startswith(
            "pandas."
        ):
            state = getattr(obj, "__dict__", None)
            data = state.get("_pa_array") if state is not None else None
            return type(data).__name__ == "ChunkedArray"
    return False


def reduce_arrow_extension_array(obj: Any) -> tuple[Any, ...]:
    """``(rebuild, (class, state))`` with the chunked array itself in the state."""
    state = dict(obj.__dict__)
    state["_cache"] = {}  # cached properties are recomputed, as pandas does
    return rebuild_arrow_extension_array, (type(obj), state)


def rebuild_arrow_extension_array(cls: Any, state: dict[str, Any]) -> Any:
    """The column, in the worker: pandas' own ``__setstate__`` on the state."""
    array = cls.__new__(cls)
    array.__setstate__(state)
    return array
