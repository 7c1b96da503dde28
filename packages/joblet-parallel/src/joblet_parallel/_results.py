"""What a task returns, pickled in a worker of our process executor.

Results are pickled as they are (protocol 5, buffers out of band), with one
exception. numpy keeps an array's byte order only when it pickles its data out
of band (protocol 5, a contiguous plain ``ndarray``); otherwise (a
``numpy.memmap``, a strided view) a big-endian array comes back in native byte
order: the same values, another dtype. A memmap (such as the worker's view of
a memory-mapped argument) is therefore sent as a contiguous plain array, and is
a ``numpy.memmap`` (without a file, as numpy's own unpickling makes it) again
in the parent, its dtype unchanged.
"""

from __future__ import annotations

import collections
import copyreg
import sys
from collections.abc import Callable, MutableMapping
from typing import Any

__all__ = ["result_pickler", "result_reducers"]

# The picklers with the result reducers, one per base class (made once numpy
# is imported: before, no result can need them).
_picklers: dict[type, type] = {}


def result_reducers() -> dict[type, Callable[[Any], Any]]:
    """``{type: reduce function}`` for pickling results (empty without numpy)."""
    numpy = sys.modules.get("numpy")
    if numpy is None:  # no array can be in the results
        return {}
    return {numpy.memmap: _reduce_memmap}


def result_pickler(base: type) -> type:
    """``base`` (``pickle.Pickler`` or cloudpickle's), with the result reducers
    before its own.

    A subclass whose class attribute holds the table: the C pickler reads
    ``dispatch_table`` when it is created.
    """
    reducers = result_reducers()
    if not reducers:
        return base
    pickler = _picklers.get(base)
    if pickler is None:
        own = getattr(base, "dispatch_table", None)
        fallback = own if isinstance(own, MutableMapping) else copyreg.dispatch_table
        table = collections.ChainMap[Any, Any](reducers, fallback)
        pickler = type("ResultPickler", (base,), {"dispatch_table": table})
        _picklers[base] = pickler
    return pickler


def _reduce_memmap(array: Any) -> tuple[Any, ...]:
    import numpy

    plain = array.view(numpy.ndarray)
    if not (plain.flags.c_contiguous or plain.flags.f_contiguous):
        plain = numpy.ascontiguousarray(plain)  # numpy's own pickling copies too
    return _as_memmap, (plain,)


def _as_memmap(array: Any) -> Any:
    import numpy

    return array.view(numpy.memmap)
