"""The restricted unpickler: imports only allowed globals, modifies none, checks calls.

What may be imported is decided in ``_allow_list``; what the stream may then do
with it (BUILD a dtype, call a constructor with a huge size) in ``_guards``.
"""

from __future__ import annotations

import pickle
import sys
from typing import Any

from ._allow_list import (
    DEFAULT_ALLOWED_GLOBALS,
    AllowList,
    global_name,
    make_allow_list,
    python3_name,
)
from ._errors import FormatError, UnsafeGlobalError, UnsafeModificationError
from ._guards import guard_for, rebuild_dtype

__all__ = [
    "DEFAULT_ALLOWED_GLOBALS",
    "AllowList",
    "RestrictedUnpickler",
    "global_name",
    "make_allow_list",
]


def _safe_stand_in(obj: Any) -> Any:
    """What a restricted load uses instead of an allowed global unsafe to call.

    ``numpy.memmap`` is listed so that pickled memmaps (``_reconstruct(memmap,
    ...)``) load, but calling it opens, creates or truncates any file it is
    given (``memmap('/some/file', mode='w+')``). A restricted load gets
    ``numpy.ndarray`` instead: the array loads, as a plain array, and nothing
    touches the disk.
    """
    numpy = sys.modules.get("numpy")
    if numpy is not None and obj is numpy.memmap:
        return numpy.ndarray
    return obj


# typeshed types pickle._Unpickler as the C class, without the pure-Python
# internals (stack, metastack, load_*) used below.
_PyUnpickler: Any = pickle._Unpickler


class RestrictedUnpickler(_PyUnpickler):
    """The pure-Python unpickler, importing only globals on ``allow``.

    It is the pure-Python one, not the C one, because checking imports is not
    enough. The opcodes that modify an object (BUILD, APPEND(S), SETITEM(S),
    ADDITEMS) could be applied to a class or an imported function itself, so
    that ``BUILD`` on ``fractions.Fraction`` with a slot state would replace
    its methods for the whole process; a ``numpy.dtype`` BUILD could make numpy
    read outside an array's buffer; and a call of an allowed constructor could
    build gigabytes from a few bytes. The C unpickler offers no hook there;
    this one refuses or checks each. With ``allow=None`` (subclasses reading
    trusted files) nothing is checked.
    """

    dispatch = _PyUnpickler.dispatch.copy()

    def __init__(self, file: Any, allow: AllowList | None, buffers: Any = None) -> None:
        super().__init__(file, buffers=buffers)
        self._allow = allow
        # id -> object of every global handed out (kept alive, so ids stay valid)
        self._globals: dict[int, Any] = {}
        self._dtype_class: type | None = None
        # id of a dtype made by REDUCE -> (the dtype, the memo index it gets next):
        # a pickler memoizes a dtype right after making it, before its BUILD
        self._dtype_memo_keys: dict[int, tuple[Any, int]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if self._allow is None:
            return super().find_class(module, name)
        if self.proto < 3:  # Python 2 names, as pickle itself maps them
            module, name = python3_name(module, name)
        self._allow.check(module, name)
        found = self._resolve(module, name)
        self._allow.check_resolved(module, name, found)
        obj = _safe_stand_in(found)
        self._globals[id(obj)] = obj
        if self._dtype_class is None and "numpy" in sys.modules:
            self._dtype_class = sys.modules["numpy"].dtype
        return obj

    @staticmethod
    def _resolve(module: str, name: str) -> Any:
        sys.audit("pickle.find_class", module, name)
        try:
            __import__(module, level=0)
            obj: Any = sys.modules[module]
            for part in name.split("."):
                if part == "<locals>":
                    raise UnsafeGlobalError(f"{module}.{name}")
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise FormatError(
                f"the file refers to {module}.{name}, which cannot be imported here "
                f"({type(exc).__name__}: {exc}); it was written with another version "
                "of that module, or it is damaged"
            ) from exc
        return obj

    # -- opcodes that modify an object: never a class or an imported global

    def _refuse_if_global(self, target: Any, opcode: str) -> None:
        if self._allow is not None and (
            id(target) in self._globals or isinstance(target, type)
        ):
            module = getattr(target, "__module__", None) or "?"
            name = getattr(target, "__qualname__", None) or type(target).__name__
            raise UnsafeModificationError(f"{module}.{name}", opcode)

    def _below_mark(self) -> Any:
        # MARK moved the stack under the mark to the metastack.
        return self.metastack[-1][-1] if self.metastack and self.metastack[-1] else None

    def load_build(self) -> None:
        if self._allow is not None and len(self.stack) >= 2:
            target = self.stack[-2]
            self._refuse_if_global(target, "BUILD")
            if self._dtype_class is not None and isinstance(target, self._dtype_class):
                self._build_dtype(target)
                return
        _PyUnpickler.load_build(self)

    def _build_dtype(self, target: Any) -> None:
        """Replace ``target`` (on the stack and in the memo) by its rebuilt dtype."""
        state = self.stack.pop()
        rebuilt = rebuild_dtype(sys.modules["numpy"], target, state)
        self.stack[-1] = rebuilt
        made = self._dtype_memo_keys.pop(id(target), None)
        if made is not None and self.memo.get(made[1]) is target:
            self.memo[made[1]] = rebuilt
        # a dtype memoized anywhere else keeps its constructor-made form: safe

    def load_append(self) -> None:
        if len(self.stack) >= 2:
            self._refuse_if_global(self.stack[-2], "APPEND")
        _PyUnpickler.load_append(self)

    def load_setitem(self) -> None:
        if len(self.stack) >= 3:
            self._refuse_if_global(self.stack[-3], "SETITEM")
        _PyUnpickler.load_setitem(self)

    def load_appends(self) -> None:
        if self._allow is not None:
            self._refuse_if_global(self._below_mark(), "APPENDS")
        _PyUnpickler.load_appends(self)

    def load_setitems(self) -> None:
        if self._allow is not None:
            self._refuse_if_global(self._below_mark(), "SETITEMS")
        _PyUnpickler.load_setitems(self)

    def load_additems(self) -> None:
        if self._allow is not None:
            self._refuse_if_global(self._below_mark(), "ADDITEMS")
        _PyUnpickler.load_additems(self)

    # -- opcodes that call an allowed global: checked by _guards

    def _check_call(self, func: Any, args: Any, kwargs: Any) -> None:
        if self._allow is None:
            return
        if not isinstance(args, tuple) or not isinstance(kwargs, dict):
            raise FormatError(
                f"damaged pickle stream: a call's arguments are a "
                f"{type(args).__name__}, not a tuple"
            )
        guard = guard_for(func)
        if guard is not None:
            guard(args, kwargs)

    def load_reduce(self) -> None:
        if len(self.stack) >= 2:
            self._check_call(self.stack[-2], self.stack[-1], {})
        _PyUnpickler.load_reduce(self)
        made = self.stack[-1]
        if self._dtype_class is not None and isinstance(made, self._dtype_class):
            self._dtype_memo_keys[id(made)] = (made, len(self.memo))

    def load_newobj(self) -> None:
        if len(self.stack) >= 2:
            self._check_call(self.stack[-2], self.stack[-1], {})
        super().load_newobj()

    def load_newobj_ex(self) -> None:
        if len(self.stack) >= 3:
            self._check_call(self.stack[-3], self.stack[-2], self.stack[-1])
        super().load_newobj_ex()

    def _instantiate(self, klass: Any, args: Any) -> None:  # INST and OBJ
        self._check_call(klass, tuple(args), {})
        super()._instantiate(klass, args)

    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.APPEND[0]] = load_append
    dispatch[pickle.SETITEM[0]] = load_setitem
    dispatch[pickle.APPENDS[0]] = load_appends
    dispatch[pickle.SETITEMS[0]] = load_setitems
    dispatch[pickle.ADDITEMS[0]] = load_additems
    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex
