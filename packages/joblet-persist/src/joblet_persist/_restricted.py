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


class _Memo(dict[int, Any]):
    """The unpickler's memo, remembering where each numpy dtype is stored.

    A dtype BUILD is replaced by a dtype built from scratch, and the memo entries
    holding the original must then hold the rebuilt one.
    """

    def __init__(self) -> None:
        super().__init__()
        self.dtype_class: type | None = None
        self.dtype_keys: dict[int, list[int]] = {}

    def __setitem__(self, key: int, value: Any) -> None:
        super().__setitem__(key, value)
        if self.dtype_class is not None and isinstance(value, self.dtype_class):
            self.dtype_keys.setdefault(id(value), []).append(key)

    def replace(self, old: Any, new: Any) -> None:
        for key in self.dtype_keys.pop(id(old), ()):
            if self.get(key) is old:
                self[key] = new


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
        self.memo = _Memo()
        # id -> object of every global handed out (kept alive, so ids stay valid)
        self._globals: dict[int, Any] = {}

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
        if self.memo.dtype_class is None and "numpy" in sys.modules:
            self.memo.dtype_class = sys.modules["numpy"].dtype
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
            isinstance(target, type) or id(target) in self._globals
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
            dtype_class = self.memo.dtype_class
            if dtype_class is not None and isinstance(target, dtype_class):
                state = self.stack.pop()
                rebuilt = rebuild_dtype(sys.modules["numpy"], target, state)
                self.stack[-1] = rebuilt
                self.memo.replace(target, rebuilt)
                return
        super().load_build()

    def load_append(self) -> None:
        if len(self.stack) >= 2:
            self._refuse_if_global(self.stack[-2], "APPEND")
        super().load_append()

    def load_setitem(self) -> None:
        if len(self.stack) >= 3:
            self._refuse_if_global(self.stack[-3], "SETITEM")
        super().load_setitem()

    def load_appends(self) -> None:
        self._refuse_if_global(self._below_mark(), "APPENDS")
        super().load_appends()

    def load_setitems(self) -> None:
        self._refuse_if_global(self._below_mark(), "SETITEMS")
        super().load_setitems()

    def load_additems(self) -> None:
        self._refuse_if_global(self._below_mark(), "ADDITEMS")
        super().load_additems()

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
        super().load_reduce()

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
