"""Reduce any object to a canonical tree of builtins whose pickle is deterministic.

The canonical tree holds only ``None``, bools, ints, floats, complex numbers,
strings, bytes, lists and tuples. Everything that could differ between two equal
values is removed on the way:

* dict items and set elements are sorted (by value, or by the canonical bytes of
  mixed-type keys), so insertion order and the per-process string hash seed do
  not matter;
* the tree is pickled without a memo, so object identity, string interning and
  an object appearing once or twice do not matter;
* arrays and buffers are replaced by a digest of their raw memory;
* classes become ``(module, qualified name)``; Python functions become what
  they compute (their code, defaults, closure contents and the globals they
  read, see ``_functions``).

Non-builtin values become tuples opened by a tag (the ``_TAG`` constants). Tags,
the tuple layouts and ``PICKLE_PROTOCOL`` are the digest format: changing any of
them changes every hash, and so every ``Memory`` key.
"""

from __future__ import annotations

import copyreg
import pickle
import sys
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable
from itertools import chain
from operator import itemgetter
from typing import Any

from . import _fingerprint, _functions
from ._arrays import digest_array_data, digest_buffer, memory_order
from ._errors import UnhashableObjectError

PICKLE_PROTOCOL = 4

ATOMIC_TYPES = frozenset({type(None), bool, int, float, complex, str, bytes})
_PLAIN_TYPES = ATOMIC_TYPES | {list, tuple}
# Deeper "plain" nesting is handled by the general walk, which also detects cycles.
_MAX_PLAIN_DEPTH = 24
# Sets and dict keys made of one of these types sort directly.
_SORTABLE_TYPES = ({str}, {int}, {bytes}, {float}, {int, float}, {bool, int})

DICT_TAG = b"\x00dict"
SET_TAG = b"\x00set"
FROZENSET_TAG = b"\x00frozenset"
BYTEARRAY_TAG = b"\x00bytearray"
GLOBAL_TAG = b"\x00global"
MODULE_TAG = b"\x00module"
METHOD_TAG = b"\x00method"
REDUCE_TAG = b"\x00reduce"
FINGERPRINT_TAG = b"\x00fingerprint"
BACKREF_TAG = b"\x00backref"
BUFFER_TAG = b"\x00buffer"
ARRAY_TAG = b"\x00ndarray"
OBJECT_ARRAY_TAG = b"\x00object-ndarray"
NUMPY_SCALAR_TAG = b"\x00numpy-scalar"
NUMPY_DTYPE_TAG = b"\x00numpy-dtype"


class _Sink:
    """A write-only file object that forwards to a callable (``hasher.update``)."""

    __slots__ = ("write",)

    def __init__(self, write: Callable[[Any], Any]) -> None:
        self.write = write


def pickle_canonical(tree: Any, write: Callable[[Any], Any]) -> None:
    """Pickle a canonical tree into ``write`` without a memo (identity-blind)."""
    pickler = pickle.Pickler(_Sink(write), protocol=PICKLE_PROTOCOL)
    pickler.fast = True  # no memo: equal values give equal bytes
    pickler.dump(tree)


def canonical_bytes(tree: Any) -> bytes:
    parts: list[bytes] = []
    pickle_canonical(tree, parts.append)
    return b"".join(parts)


def is_plain(container: list[Any] | tuple[Any, ...]) -> bool:
    """True if ``container`` nests only lists, tuples and atoms (no cycle, shallow).

    Such a container is already canonical, and is checked level by level with
    C-speed ``set(map(type, ...))``: this keeps big lists of numbers, strings and
    tuples fast.
    """
    kinds = set(map(type, container))
    if kinds <= ATOMIC_TYPES:  # the common case, answered without building levels
        return True
    if not kinds <= _PLAIN_TYPES:
        return False
    level: list[Any] = [
        item for item in container if type(item) is list or type(item) is tuple
    ]
    for _ in range(_MAX_PLAIN_DEPTH):
        kinds = set(map(type, chain.from_iterable(level)))
        if not kinds <= _PLAIN_TYPES:
            return False
        if list not in kinds and tuple not in kinds:
            return True
        level = [
            item
            for item in chain.from_iterable(level)
            if type(item) is list or type(item) is tuple
        ]
    return False


def _global_reference(obj: Any) -> tuple[Any, ...]:
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return (GLOBAL_TAG, module, name)


class Canonicalizer:
    """One walk over one hashed value. Not reusable across threads."""

    def __init__(self, hash_name: str, coerce_mmap: bool) -> None:
        self.hash_name = hash_name
        self.coerce_mmap = coerce_mmap
        # id -> position of the mutable containers and objects being walked,
        # innermost last: a repeat means a cycle, recorded as a relative back-ref.
        self._active: dict[int, int] = {}
        self._exact: dict[type, Callable[[Canonicalizer, Any], Any]] = {
            dict: Canonicalizer._dict,
            list: Canonicalizer._list,
            tuple: Canonicalizer._tuple,
            set: Canonicalizer._set,
            frozenset: Canonicalizer._set,
            bytearray: Canonicalizer._bytearray,
        }

    # --- entry points ---------------------------------------------------------

    def canon(self, obj: Any) -> Any:
        cls = type(obj)
        if cls in ATOMIC_TYPES:
            return obj
        handler = self._exact.get(cls) or _handler_for(cls)
        return handler(self, obj)

    def _enter(self, obj: Any, build: Callable[[Any], Any]) -> Any:
        key = id(obj)
        active = self._active
        if key in active:
            return (BACKREF_TAG, len(active) - active[key])
        active[key] = len(active)
        try:
            return build(obj)
        finally:
            del active[key]

    # --- builtin containers -----------------------------------------------------

    def _items(self, items: Iterable[Any]) -> list[Any]:
        canon, out, index = self.canon, [], 0
        try:
            for index, item in enumerate(items):  # noqa: B007 (read in except)
                out.append(item if type(item) in ATOMIC_TYPES else canon(item))
        except UnhashableObjectError as error:
            error.add_parent(f"[{index}]")
            raise
        return out

    def _list(self, obj: list[Any]) -> Any:
        if is_plain(obj):
            return obj
        return self._enter(obj, self._items)

    def _tuple(self, obj: tuple[Any, ...]) -> Any:
        if is_plain(obj):
            return obj
        return tuple(self._items(obj))

    def _sorted(self, values: list[Any]) -> list[Any]:
        """Sort canonical values by value, else by their canonical bytes."""
        try:
            values.sort()
        except TypeError:
            values.sort(key=canonical_bytes)
        return values

    def _pairs(
        self, items: Iterable[tuple[Any, Any]], step: str, sort: bool
    ) -> list[Any]:
        canon, pairs, key = self.canon, [], None
        try:
            for key, value in items:
                pairs.append((canon(key), canon(value)))
        except UnhashableObjectError as error:
            error.add_parent(step.format(key))
            raise
        if not sort:
            return pairs
        try:
            pairs.sort(key=itemgetter(0))
        except TypeError:
            pairs.sort(key=lambda pair: canonical_bytes(pair[0]))
        return pairs

    def _dict(self, obj: dict[Any, Any]) -> Any:
        key_types = set(map(type, obj))
        if len(key_types) <= 1 and key_types <= {str, int, bytes}:
            value_types = set(map(type, obj.values()))
            if value_types <= ATOMIC_TYPES or (
                value_types <= _PLAIN_TYPES and is_plain(list(obj.values()))
            ):
                # Keys are unique and of one sortable type, so sorting the items
                # compares keys only; plain values are already canonical.
                return (DICT_TAG, sorted(obj.items()))
        return (
            DICT_TAG,
            self._enter(obj, lambda d: self._pairs(d.items(), "[{!r}]", True)),
        )

    def _set(self, obj: set[Any] | frozenset[Any]) -> Any:
        tag = SET_TAG if type(obj) is set else FROZENSET_TAG
        if set(map(type, obj)) in _SORTABLE_TYPES:
            return (tag, sorted(obj))
        try:
            elements = [self.canon(element) for element in obj]
        except UnhashableObjectError as error:
            error.add_parent("{<element>}")
            raise
        return (tag, self._sorted(elements))

    def _bytearray(self, obj: bytearray) -> Any:
        return (BYTEARRAY_TAG, bytes(obj))

    # --- everything else ----------------------------------------------------------

    def _global(self, obj: Any) -> Any:
        return _global_reference(obj)

    def _function(self, obj: types.FunctionType) -> Any:
        return self._enter(obj, lambda f: _functions.function_form(f, self.canon))

    def _builtin_function(self, obj: Any) -> Any:
        owner = getattr(obj, "__self__", None)
        if owner is None or isinstance(owner, types.ModuleType):
            return _global_reference(obj)
        return self._method(obj)

    def _method(self, obj: Any) -> Any:
        try:
            owner = self.canon(obj.__self__)
        except UnhashableObjectError as error:
            error.add_parent(".__self__")
            raise
        return (METHOD_TAG, owner, getattr(obj, "__qualname__", obj.__name__))

    def _module(self, obj: types.ModuleType) -> Any:
        return (MODULE_TAG, obj.__name__)

    def _pickle_buffer(self, obj: pickle.PickleBuffer) -> Any:
        return (BUFFER_TAG, digest_buffer(self.hash_name, obj))

    def _memoryview(self, obj: memoryview) -> Any:
        return (BUFFER_TAG, obj.format, obj.shape, digest_buffer(self.hash_name, obj))

    def _fingerprinted(self, obj: Any) -> Any:
        func = _fingerprint.fingerprint_function(type(obj))
        assert func is not None
        try:
            value = self.canon(func(obj))
        except UnhashableObjectError as error:
            error.add_parent(f".{_fingerprint.FINGERPRINT_METHOD}()")
            raise
        return (FINGERPRINT_TAG, _global_reference(type(obj)), value)

    def _ndarray(self, obj: Any) -> Any:
        numpy = sys.modules["numpy"]
        cls = type(obj)
        if self.coerce_mmap and isinstance(obj, numpy.memmap):
            cls = numpy.ndarray
        order = memory_order(obj)
        header = (
            _global_reference(cls),
            obj.dtype.str,
            obj.dtype.descr,
            obj.shape,
            order,
        )
        if obj.dtype.hasobject:
            elements = (
                obj.reshape(-1, order=order).tolist() if obj.ndim else [obj.item()]
            )
            return (
                OBJECT_ARRAY_TAG,
                *header,
                self._enter(obj, lambda _: self._items(elements)),
            )
        return (ARRAY_TAG, *header, digest_array_data(self.hash_name, obj, order))

    def _numpy_scalar(self, obj: Any) -> Any:
        if obj.dtype.hasobject:
            return self._reduce(obj)
        return (NUMPY_SCALAR_TAG, obj.dtype.str, obj.dtype.descr, obj.tobytes())

    def _numpy_dtype(self, obj: Any) -> Any:
        return (NUMPY_DTYPE_TAG, obj.str, obj.descr, obj.name)

    def _reduce(self, obj: Any) -> Any:
        """Objects in general: the canonical form of what pickle would store."""
        return self._enter(obj, self._reduce_walk)

    def _reduce_walk(self, obj: Any) -> Any:
        cls = type(obj)
        try:
            reducer = copyreg.dispatch_table.get(cls)
            reduced = reducer(obj) if reducer else obj.__reduce_ex__(5)
        except Exception as exc:
            raise UnhashableObjectError(
                _qualified_name(cls), str(exc) or type(exc).__name__
            ) from None
        if isinstance(reduced, str):  # a global: pickle stores its name
            return (GLOBAL_TAG, getattr(obj, "__module__", None), reduced)
        func, args, state, list_items, dict_items = (tuple(reduced) + (None,) * 5)[:5]
        canon = self.canon
        try:
            form = [REDUCE_TAG, canon(func), canon(args)]
        except UnhashableObjectError as error:
            error.add_parent(".__reduce__()")
            raise
        form.append(self._state(state))
        if list_items is not None:
            form.append(self._items(list_items))
        if dict_items is not None:
            keep_order = isinstance(obj, OrderedDict)
            form.append(self._pairs(dict_items, "[{!r}]", sort=not keep_order))
        return tuple(form)

    def _state(self, state: Any) -> Any:
        # The usual state is the instance __dict__ (or (__dict__, slots)); walk it
        # so that a failure reads as an attribute path: obj.model.lock.
        if (
            type(state) is tuple
            and len(state) == 2
            and all(part is None or type(part) is dict for part in state)
        ):
            return tuple(self._state(part) for part in state)
        if type(state) is dict and all(type(key) is str for key in state):
            return (DICT_TAG, self._pairs(state.items(), ".{}", sort=True))
        try:
            return self.canon(state)
        except UnhashableObjectError as error:
            error.add_parent(".__getstate__()")
            raise

    # --- choosing a handler per type --------------------------------------------

    # The first base class that a type derives from picks its handler.
    _HANDLERS_BY_BASE: tuple[tuple[type, Callable[[Canonicalizer, Any], Any]], ...] = (
        (type, _global),
        (types.FunctionType, _function),
        (types.BuiltinFunctionType, _builtin_function),
        (types.MethodType, _method),
        (types.ModuleType, _module),
        (pickle.PickleBuffer, _pickle_buffer),
        (memoryview, _memoryview),
    )
    # The same for numpy's types, by name: numpy is looked up only once imported.
    _NUMPY_HANDLERS_BY_BASE: tuple[
        tuple[str, Callable[[Canonicalizer, Any], Any]], ...
    ] = (
        ("ndarray", _ndarray),
        ("generic", _numpy_scalar),
        ("dtype", _numpy_dtype),
    )

    @classmethod
    def choose_handler(cls, value_type: type) -> Callable[[Canonicalizer, Any], Any]:
        """The method that canonicalizes values of ``value_type`` (not cached)."""
        if _fingerprint.fingerprint_function(value_type) is not None and not issubclass(
            value_type, type
        ):
            return cls._fingerprinted
        for base, handler in cls._HANDLERS_BY_BASE:
            if issubclass(value_type, base):
                return handler
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            for name, numpy_handler in cls._NUMPY_HANDLERS_BY_BASE:
                if issubclass(value_type, getattr(numpy, name)):
                    return numpy_handler
        return cls._reduce


def _qualified_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


# --- the handler of each type, cached until a fingerprint is registered -------

_handlers: dict[type, Callable[[Canonicalizer, Any], Any]] = {}
_handlers_version = [-1]


def _handler_for(cls: type) -> Callable[[Canonicalizer, Any], Any]:
    if _handlers_version[0] != _fingerprint.registry_version[0]:
        _handlers.clear()
        _handlers_version[0] = _fingerprint.registry_version[0]
    handler = _handlers.get(cls)
    if handler is None:
        handler = _handlers[cls] = Canonicalizer.choose_handler(cls)
    return handler
