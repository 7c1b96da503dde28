"""Restricted loading: import only globals on an allow-list."""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterable
from typing import Any

from ._errors import UnsafeGlobalError, UnsafeModificationError

#: Globals a restricted load imports without being told: builtin containers and
#: values, numpy arrays, dtypes and scalars, and joblet's own array rebuild.
DEFAULT_ALLOWED_GLOBALS: frozenset[str] = frozenset(
    {
        "builtins.bool",
        "builtins.bytearray",
        "builtins.bytes",
        "builtins.complex",
        "builtins.dict",
        "builtins.float",
        "builtins.frozenset",
        "builtins.int",
        "builtins.list",
        "builtins.range",
        "builtins.set",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "_codecs.encode",  # how protocols 0-2 store bytes
        "copyreg._reconstructor",  # protocols 0-1 instances; the classes are checked too
        "collections.OrderedDict",
        "collections.deque",
        "datetime.date",
        "datetime.datetime",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        "numpy.ndarray",
        "numpy.memmap",
        "numpy.dtype",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "joblet_persist._numpy_io.rebuild_array",
        "joblib.numpy_pickle.NumpyArrayWrapper",
    }
)


def global_name(item: Any) -> str:
    """``"module.qualname"`` for a string (kept as is), class or function."""
    if isinstance(item, str):
        return item
    module = getattr(item, "__module__", None)
    qualname = getattr(item, "__qualname__", None)
    if not module or not qualname:
        raise TypeError(
            f"allowed_globals items must be 'module.qualname' strings, classes or "
            f"functions; got {item!r}"
        )
    return f"{module}.{qualname}"


class AllowList:
    """A set of allowed ``module.qualname`` names; ``"module.*"`` allows a module."""

    def __init__(self, extra: Iterable[Any]) -> None:
        if isinstance(extra, str):
            extra = [extra]
        names = {global_name(item) for item in extra}
        self.names = frozenset(
            DEFAULT_ALLOWED_GLOBALS | {n for n in names if not n.endswith(".*")}
        )
        self.modules = tuple(n[:-2] for n in names if n.endswith(".*"))

    def _in_modules(self, module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in self.modules)

    def check(self, module: str, name: str) -> None:
        """Refuse ``module.name`` unless listed by name or by its module."""
        full = f"{module}.{name}"
        if full in self.names or self._in_modules(module):
            return
        raise UnsafeGlobalError(full)

    def check_resolved(self, module: str, name: str, obj: Any) -> None:
        """Refuse what a ``"module.*"`` name reached outside that module.

        A protocol-4 name may be dotted (``Outer.Inner``), and pickle resolves it
        attribute by attribute, so ``("mypkg", "os.system")`` would reach
        ``os.system`` through ``mypkg``'s own ``import os``. Pickle always names
        an object by its defining module, so an object found through a module
        wildcard must be defined in an allowed module.
        """
        if f"{module}.{name}" in self.names:
            return
        defined_in = getattr(obj, "__module__", None)
        if not isinstance(defined_in, str) or not (
            self._in_modules(defined_in)
            or f"{defined_in}.{getattr(obj, '__qualname__', '')}" in self.names
        ):
            raise UnsafeGlobalError(f"{module}.{name}")


def make_allow_list(allowed_globals: Iterable[Any] | None) -> AllowList | None:
    return None if allowed_globals is None else AllowList(allowed_globals)


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
    enough: the opcodes that modify an object (BUILD, APPEND(S), SETITEM(S),
    ADDITEMS) could be applied to an imported class or function itself, so
    that ``BUILD`` on ``fractions.Fraction`` with a slot state would replace
    its methods for the whole process. The C unpickler offers no hook there;
    this one refuses such an opcode. With ``allow=None`` (subclasses reading
    trusted files) nothing is checked.
    """

    dispatch = _PyUnpickler.dispatch.copy()

    def __init__(self, file: Any, allow: AllowList | None, buffers: Any = None) -> None:
        super().__init__(file, buffers=buffers)
        self._allow = allow
        # id -> object of every global handed out (kept alive, so ids stay valid)
        self._globals: dict[int, Any] = {}

    def find_class(self, module: str, name: str) -> Any:
        if self._allow is None:
            return super().find_class(module, name)
        self._allow.check(module, name)
        obj = super().find_class(module, name)
        self._allow.check_resolved(module, name, obj)
        obj = _safe_stand_in(obj)
        self._globals[id(obj)] = obj
        return obj

    def _refuse_if_global(self, target: Any, opcode: str) -> None:
        if self._allow is not None and id(target) in self._globals:
            module = getattr(target, "__module__", None) or "?"
            name = getattr(target, "__qualname__", None) or type(target).__name__
            raise UnsafeModificationError(f"{module}.{name}", opcode)

    def _below_mark(self) -> Any:
        # MARK moved the stack under the mark to the metastack.
        return self.metastack[-1][-1] if self.metastack and self.metastack[-1] else None

    def load_build(self) -> None:
        if len(self.stack) >= 2:
            self._refuse_if_global(self.stack[-2], "BUILD")
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

    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.APPEND[0]] = load_append
    dispatch[pickle.SETITEM[0]] = load_setitem
    dispatch[pickle.APPENDS[0]] = load_appends
    dispatch[pickle.SETITEMS[0]] = load_setitems
    dispatch[pickle.ADDITEMS[0]] = load_additems
