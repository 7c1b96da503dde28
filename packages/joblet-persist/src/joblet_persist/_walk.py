"""The one walk of a pickle stream, shared by the restricted load and ``inspect``.

Our own opcode loop: it reads each opcode and its argument itself (charging
lengths to the :class:`~._budget.Budget` before reading them), keeps pickle's
stack, marks and memo, and never lets the stream execute anything. A global
becomes a name; a call (REDUCE, NEWOBJ, INST, OBJ) goes to the closed table of
typed reconstructors in ``_reconstructors`` (builtins, containers, datetime,
numbers) and ``_numpy_rebuild`` (dtypes, scalars, arrays, joblet's and joblib's
array records), or to a global the user allowed (trusted code). BUILD applies
a state only to an object a reconstructor left pending for it
(:class:`Pending`), or to one the user's trusted code made.

Two modes share every line of it: ``dry=False`` builds (the restricted load);
``dry=True`` describes (``inspect``): nothing is imported, unknown calls give
:class:`Opaque`, arrays are recorded with their sizes instead of allocated, and
every global the stream names is listed, including those of nested streams.
"""

from __future__ import annotations

import functools
import sys
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import IO, Any

from ._allow_list import AllowList, python3_name
from ._budget import Budget
from ._errors import (
    FormatError,
    UnsafeGlobalError,
    UnsafeModificationError,
)
from ._walk_values import (
    Found,
    JoblibInput,
    Opaque,
    Pending,
    Ref,
)

#: Largest piece read at once: a damaged length fails when the data ends.
_STEP = 1 << 20
_LINE_LIMIT = 1 << 16
_MUTABLE = (list, dict, set, OrderedDict, deque)


Handler = Callable[["Walk", tuple[Any, ...], dict[str, Any]], Any]


@functools.cache
def _handlers() -> tuple[dict[str, Handler], dict[str, Handler]]:
    from ._numpy_rebuild import NUMPY_CALLS, NUMPY_NEW
    from ._reconstructors import CALLS, NEW

    return CALLS | NUMPY_CALLS, NEW | NUMPY_NEW


class Walk:
    """One walk of one pickle stream (and of the streams nested in it).

    Parameters
    ----------
    file : binary file
        The stream, positioned at its first opcode.
    where : str
        How messages name the input.
    budget : Budget
        What the walk may allocate.
    allow : AllowList or None
        The names a building walk may import; a dry walk names everything.
    dry : bool
        Describe instead of building.
    buffers : iterator, optional
        The out-of-band buffers (NEXT_BUFFER, and joblet's persistent ids).
    joblib : JoblibInput, optional
        Path and mode for joblib's inline arrays.
    """

    def __init__(
        self,
        file: IO[bytes],
        where: str,
        budget: Budget,
        allow: AllowList | None,
        *,
        dry: bool = False,
        buffers: Iterator[Any] | None = None,
        joblib: JoblibInput | None = None,
        found: Found | None = None,
    ) -> None:
        self.file = file
        self.where = where
        self.budget = budget
        self.allow = allow
        self.dry = dry
        self.buffers = buffers
        self.joblib = joblib or JoblibInput()
        self.found = found if found is not None else Found()
        self.calls, self.news = _handlers()
        self._names: dict[int, tuple[Any, str]] = {}  # id -> (global, its name)
        self._user_made: dict[int, Any] = {}  # objects the user's globals made
        self._pending_keys: dict[int, list[int]] = {}
        self.proto = 0

    # -- what reconstructors use

    def fail(self, message: str) -> FormatError:
        """The FormatError for a stream that is damaged or malicious."""
        return FormatError(
            f"{self.where} is damaged or malicious: {message}. A restricted load "
            "and inspect refuse it; dump the data again."
        )

    def name_of(self, obj: Any) -> str | None:
        """``'module.qualname'`` when ``obj`` is a global this walk resolved."""
        if isinstance(obj, Ref):
            return obj.name
        found = self._names.get(id(obj))
        return found[1] if found is not None and found[0] is obj else None

    def numpy(self) -> Any:
        """numpy, or the ImportError naming the extra that installs it."""
        try:
            import numpy
        except ImportError:
            raise ImportError(
                f"{self.where} holds numpy arrays, and numpy is not installed; "
                "install it with `pip install 'joblet-persist[numpy]'`"
            ) from None
        return numpy

    def nested(self) -> Any:
        """Walk the pickle stream that follows in the same file (joblib's object arrays)."""
        inner = Walk(
            self.file,
            self.where,
            self.budget,
            self.allow,
            dry=self.dry,
            joblib=self.joblib,
            found=self.found,
        )
        return inner.run()

    def call_user(
        self, name: str, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Call ``name``, a global the user allowed (trusted code), or describe the call."""
        if self.dry:
            return Opaque(name)
        made = func(*args, **kwargs)
        self._user_made[id(made)] = made
        return made

    # -- what the opcode loop (_opcodes) asks of the walk

    def resolve_global(self, module: str, name: str) -> Any:
        """GLOBAL, STACK_GLOBAL, INST: the named global, checked (a Ref when dry)."""
        if self.proto < 3:
            module, name = python3_name(module, name)
        full = f"{module}.{name}"
        self.found.name(full)
        in_table = full in self.calls or full in self.news
        if self.dry or full in NOT_IMPORTED:
            return Ref(full)
        if not in_table:
            if self.allow is None:
                raise UnsafeGlobalError(full)
            self.allow.check(module, name)
        obj = _resolve(module, name, self.where)
        if not in_table:
            assert self.allow is not None
            self.allow.check_resolved(module, name, obj)
        self._names[id(obj)] = (obj, full)
        return obj

    def call(self, func: Any, args: Any, kwargs: Any, new: bool = False) -> Any:
        """REDUCE (NEWOBJ with ``new``): a reconstructor of the table, or the user's."""
        if not isinstance(args, tuple) or not isinstance(kwargs, dict):
            raise self.fail(f"a call's arguments are a {type(args).__name__}")
        name = self.name_of(func)
        if name is None:
            if isinstance(func, Opaque):
                return Opaque(func.name)
            raise self.fail(f"it calls a {type(func).__name__} it did not import")
        handler = (self.news if new else self.calls).get(name)
        if handler is not None:
            try:
                return handler(self, args, kwargs)
            except FormatError:
                if self.dry and _has_opaque((args, kwargs)):
                    return Opaque(name)
                raise
        if name in self.calls or name in self.news:
            raise self.fail(f"it calls {name} in a way pickle never writes")
        if new:
            if not isinstance(func, type) and not self.dry:
                raise self.fail(f"NEWOBJ on {name}, which is not a class")
            return self.call_user(name, _new, (func, *args), kwargs)
        return self.call_user(name, func, args, kwargs)

    def build(self, target: Any, state: Any) -> Any:
        """BUILD: the state of an object a reconstructor left pending, applied once."""
        if isinstance(target, Pending):
            if target.done:
                raise self.fail("it applies BUILD twice to one object")
            target.done = True
            value = target.finish(self, state)
            for key in self._pending_keys.pop(id(target), ()):
                if self._memo.get(key) is target:
                    self._memo[key] = value
            return value
        if isinstance(target, Opaque):
            return target
        name = self.name_of(target)
        if name is None and self._made_by_user(target):
            _setstate(target, state)
            return target
        if name is not None or isinstance(target, type):
            raise UnsafeModificationError(name or repr(target), "BUILD")
        raise self.fail(f"it applies BUILD to a {type(target).__name__}")

    def mutable(self, target: Any, opcode: str) -> Any:
        """``target`` of APPEND(S), SETITEM(S), ADDITEMS: never a global or a class."""
        name = self.name_of(target)
        if name is not None:  # a global itself (a module's dict ...): never changed
            raise UnsafeModificationError(name, opcode)
        if type(target) in _MUTABLE:
            return target
        if isinstance(target, Opaque) or self._made_by_user(target):
            return target
        if isinstance(target, type):
            raise UnsafeModificationError(repr(target), opcode)
        raise self.fail(f"it applies {opcode} to a {type(target).__name__}")

    def _made_by_user(self, target: Any) -> bool:
        return self._user_made.get(id(target)) is target

    # -- the loop

    def run(self) -> Any:
        """Read the stream up to its STOP opcode; the value (or a description)."""
        from ._opcodes import run_opcodes

        self._memo: dict[int, Any] = {}
        return run_opcodes(self)

    def value(self, item: Any) -> Any:
        """``item`` about to be stored in a value: never a pending object."""
        if isinstance(item, Pending):
            raise self.fail("it uses an object before its state is set (BUILD)")
        return item

    def values(self, items: list[Any]) -> list[Any]:
        for item in items:
            if isinstance(item, Pending):
                raise self.fail("it uses an object before its state is set (BUILD)")
        return items

    def memoize(self, item: Any) -> None:
        """MEMOIZE: ``item`` under the next free memo index."""
        self.remember(len(self._memo), item)

    def remember(self, key: int, item: Any) -> None:
        if key < 0:
            raise self.fail(f"negative memo index {key}")
        self._memo[key] = item
        if isinstance(item, Pending):
            self._pending_keys.setdefault(id(item), []).append(key)

    def recall(self, key: int) -> Any:
        try:
            return self._memo[key]
        except KeyError:
            raise self.fail(f"memo index {key} was never stored") from None

    def next_buffer(self) -> Any:
        if self.buffers is None:
            raise self.fail("it uses an out-of-band buffer, and none was given")
        try:
            return next(self.buffers)
        except StopIteration:
            raise self.fail("it uses more buffers than the file lists") from None


#: Table names never imported (joblib need not be installed to read its files).
NOT_IMPORTED = frozenset(
    {
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    }
)


def _resolve(module: str, name: str, where: str) -> Any:
    sys.audit("pickle.find_class", module, name)
    try:
        __import__(module, level=0)
        obj: Any = sys.modules[module]
        for part in name.split("."):
            if part == "<locals>":
                raise UnsafeGlobalError(f"{module}.{name}")
            obj = getattr(obj, part)
    except (ImportError, AttributeError, SyntaxError) as exc:
        raise FormatError(
            f"{where} refers to {module}.{name}, which cannot be imported here "
            f"({type(exc).__name__}: {exc}); it was written with another version "
            "of that module, or it is damaged"
        ) from exc
    numpy = sys.modules.get("numpy")
    if numpy is not None and obj is numpy.memmap:
        # a memmap loads as a plain array: calling memmap opens files
        return numpy.ndarray
    return obj


def _new(klass: Any, *args: Any, **kwargs: Any) -> Any:
    """NEWOBJ: ``klass.__new__(klass, *args, **kwargs)``, as pickle does."""
    return klass.__new__(klass, *args, **kwargs)


def _has_opaque(value: Any, depth: int = 0) -> bool:
    if isinstance(value, Opaque):
        return True
    if depth > 4:
        return False
    if isinstance(value, (tuple, list)):
        return any(_has_opaque(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return any(_has_opaque(item, depth + 1) for item in value.values())
    return False


def _setstate(target: Any, state: Any) -> None:
    """pickle's BUILD, on an object the user's trusted code made."""
    setstate = getattr(target, "__setstate__", None)
    if setstate is not None:
        setstate(state)
        return
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    if state:
        target.__dict__.update(state)
    if slots:
        for key, value in slots.items():
            setattr(target, key, value)
