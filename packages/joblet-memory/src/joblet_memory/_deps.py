"""What a cached function depends on, found by reading its compiled code.

Starting from the cached function, the walker reads each code object's
instructions and follows, transitively and once per object (cycles end there):

* globals the code loads (``LOAD_GLOBAL``), and module attributes reached
  through them (``helpers.clean``, ``pkg.sub.CONSTANT``);
* the functions and classes held by its closure cells and default arguments;
* methods looked up on ``self`` in a method (``self.step()``), in the classes
  of the owner's method resolution order;
* for a class: every function of its body (methods, static and class methods,
  properties) and its plain-data class attributes, and its bases.

What is found is classified by where it lives:

* **user code** (a file outside the standard library and site-packages, or
  code typed at a prompt): functions and classes are part of the record by
  their compiled code, module-level constants (immutable data: numbers,
  strings, tuples, small numpy arrays) by their value;
* **third-party code** (site-packages): by top-level module name, not part of
  the key; with ``track_versions`` by distribution and version, part of it;
* the standard library, builtins and joblet itself: not recorded;
* a name of the user's module bound to library code (``OP = math.floor``,
  ``Model = Ridge``): by what it names (``math.floor``), so re-binding it to
  another function or class recomputes even though that code is not read;
* module-level data of the user's (dicts, lists, sets, arrays, instances of
  the user's own classes, callable objects): by content, hashed when the
  function is first called in a process (mutating it in place later in the
  same process is not seen until the next one); past :data:`MAX_STATE_BYTES`
  or when it cannot be hashed, by name only, and the first call warns;
* a user module used as a value (``getattr(helpers, name)``): every function,
  class and constant defined in it.

Besides the record, the walker lists what must stay **the same objects** for
the record to stay true: each followed function's code object and defaults,
and each global name it read (see :class:`Watch`). A cached function checks
them on every call, so replacing a function's ``__code__`` (IPython's
``%autoreload``) or re-binding a module's name takes effect at the next call.

Nothing here raises for an object it cannot inspect: the worst case is a
dependency recorded by name.
"""

from __future__ import annotations

import dis
import enum
import functools
import importlib.metadata
import os
import site
import sys
import sysconfig
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from joblet_hash import FAST_HASH_NAME
from joblet_hash import hash as hash_value
from joblet_hash.code import code_form

from ._dep_values import (
    UNTRACKED,
    constant_digest,
    is_array,
    state_digest,
    value_digest,
)
from ._watch import Watch

# Dependency kinds, as stored in code records and shown by ``explain``.
FUNCTION = "function"
CLASS = "class"
CONSTANT = "constant"
DISTRIBUTION = "distribution"
FILE = "file"
VALUE = "value"
REFERENCE = "reference"
BY_NAME = "by name"

JOBLET_PACKAGES = frozenset(
    {
        "joblet",
        "joblet_hash",
        "joblet_persist",
        "joblet_memory",
        "joblet_parallel",
        "joblet_dask",
    }
)
# How deep calls are followed (objects that make up attributes, such as mocks,
# would otherwise be followed until the interpreter's recursion limit).
MAX_DEPTH = 100


@dataclass(frozen=True)
class Dependency:
    """One thing a function's results depend on.

    ``digest`` is None when it is recorded by name only (not part of the key).
    """

    name: str
    kind: str
    digest: str | None
    detail: str = ""

    def to_list(self) -> list[Any]:
        return [self.kind, self.digest, self.detail]

    @classmethod
    def from_list(cls, name: str, data: Any) -> Dependency:
        kind, digest, detail = [*list(data), None, None, ""][:3]
        return cls(
            name, str(kind), None if digest is None else str(digest), str(detail)
        )


# -- where code lives ------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    roots = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.realpath(path))
    for path in [*getattr(site, "getsitepackages", list)(), site.getusersitepackages()]:
        roots.add(os.path.realpath(path))
    return tuple(sorted(roots))


@functools.lru_cache(maxsize=4096)
def is_library_file(filename: str) -> bool:
    """True for the standard library and installed third-party code."""
    if filename.startswith("<frozen"):
        return True
    if filename.startswith("<"):
        return False  # typed at a prompt, exec'd, doctest: the user's
    real = os.path.realpath(filename)
    parts = real.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return True
    return any(real.startswith(root + os.sep) for root in _library_roots())


def _top_module(module_name: str | None) -> str:
    return (module_name or "").split(".", 1)[0]


def _module_file(module_name: str | None) -> str | None:
    module = sys.modules.get(module_name or "")
    file = getattr(module, "__file__", None)
    return file if isinstance(file, str) else None


def _is_stdlib_module(module_name: str | None) -> bool:
    top = _top_module(module_name)
    return top in sys.stdlib_module_names or top in ("builtins", "__future__")


@functools.lru_cache(maxsize=1)
def _distributions_by_module() -> dict[str, list[str]]:
    try:
        return dict(importlib.metadata.packages_distributions())
    except Exception:  # a broken distribution's metadata must not break a call
        return {}


def distribution_of(module_name: str | None) -> tuple[str, str] | None:
    """``(distribution, version)`` providing ``module_name``, or None.

    The module's own name is tried first (one metadata read): mapping every
    installed module to its distribution costs a scan of all of them, done only
    when the name does not match.
    """
    top = _top_module(module_name)
    for dist in (top, top.replace("_", "-")):
        try:
            return dist, importlib.metadata.version(dist)
        except (importlib.metadata.PackageNotFoundError, ValueError):
            continue
    for dist in _distributions_by_module().get(top, []):
        try:
            return dist, importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


# -- reading code ---------------------------------------------------------------

_ATTRIBUTE_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
_FAST_OPS = frozenset({"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR"})


def _nested_codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _nested_codes(const)


def _loads(
    code: types.CodeType, self_name: str | None
) -> Iterator[tuple[str, str, list[str]]]:
    """``(where, name, attributes)`` for each global or ``self`` load and its chain.

    ``where`` is ``'global'`` or ``'self'``; ``attributes`` are the attribute
    names read right after it (``helpers.clean`` gives ``['clean']``).
    """
    chain: tuple[str, str, list[str]] | None = None
    for instruction in dis.get_instructions(code):
        op = instruction.opname
        if chain is not None and op in _ATTRIBUTE_OPS:
            chain[2].append(str(instruction.argval))
            continue
        if chain is not None:
            yield chain
            chain = None
        if op in _GLOBAL_OPS:
            chain = ("global", str(instruction.argval), [])
        elif (
            self_name is not None
            and op in _FAST_OPS
            and instruction.argval == self_name
        ):
            chain = ("self", self_name, [])
    if chain is not None:
        yield chain


class DependencyWalker:
    """Collects the dependencies of one cached function (see the module docstring).

    Parameters
    ----------
    track_versions : bool
        Record third-party code by distribution version (part of the key)
        instead of by name only.
    """

    def __init__(self, track_versions: bool = False) -> None:
        self.track_versions = track_versions
        self.found: dict[str, Dependency] = {}
        self.watch = Watch()
        self._visited: set[int] = set()
        self._depth = 0

    # -- entry points -------------------------------------------------------------

    def walk_root(self, func: types.FunctionType, owner: type | None) -> None:
        """Follow what the cached function itself uses (its own code is not added)."""
        self._visited.add(id(func))
        self.watch.function(func)
        self._follow_function_body(func, owner)

    def add(self, dependency: Dependency) -> None:
        """Record ``dependency``; a second one under a taken name is numbered.

        Two objects can share a name: a ``functools.wraps`` wrapper takes the
        qualified name of the function it wraps, and both count.
        """
        name = dependency.name
        taken = self.found.get(name)
        number = 2
        while taken is not None and taken.digest != dependency.digest:
            name = f"{dependency.name} ({number})"
            taken = self.found.get(name)
            number += 1
        if taken is None:
            self.found[name] = Dependency(
                name, dependency.kind, dependency.digest, dependency.detail
            )

    def visit(self, value: Any, name: str) -> None:
        """Record ``value`` (reached under ``name``) and follow what it uses."""
        if id(value) in self._visited:
            return
        self._visited.add(id(value))
        if self._depth >= MAX_DEPTH:
            self.add(Dependency(name, BY_NAME, None, "too deep, not followed"))
            return
        self._depth += 1
        try:
            self._visit(value, name)
        except Exception as error:  # inspection must never break a call
            self.add(Dependency(name, BY_NAME, None, f"not inspected: {error!r}"))
        finally:
            self._depth -= 1

    # -- classification -------------------------------------------------------------

    def _visit(self, value: Any, name: str) -> None:
        inner = getattr(value, "__wrapped__", None)
        if isinstance(value, functools.partial):
            self.visit(value.func, name)
            frozen = ("partial", value.args, tuple(sorted(value.keywords.items())))
            self._visit_state(frozen, name + " (partial arguments)")
        elif isinstance(value, types.FunctionType):
            self._visit_function(value)
            if inner is not None:  # functools.wraps: the wrapped code counts too
                self.visit(inner, name + " (wrapped)")
        elif isinstance(value, functools.cached_property):
            self.visit(value.func, name)
        elif isinstance(value, type):
            self._visit_class(value)
        elif isinstance(value, types.ModuleType):
            self._visit_module(value)
        elif isinstance(value, (types.MethodType, staticmethod, classmethod)):
            self.visit(value.__func__, name)
        elif isinstance(value, property):
            for accessor in (value.fget, value.fset, value.fdel):
                if accessor is not None:
                    self.visit(accessor, name)
        elif inner is not None and callable(value):
            self.visit(inner, name)  # a decorated function (a MemorizedFunc too)
        elif constant_digest(value) is not None:
            self._visit_constant(value, name)
        elif isinstance(value, (dict, list, set, bytearray)) or is_array(value):
            self._visit_state(value, name)
        else:
            self._visit_other(value, name)

    def _is_library(self, module_name: str | None) -> bool:
        """Standard library, joblet, built-in or installed code (not the user's)."""
        if _top_module(module_name) in JOBLET_PACKAGES or _is_stdlib_module(
            module_name
        ):
            return True
        file = _module_file(module_name)
        if file is None:
            # A built-in module is library code; exec'd code under a made-up
            # module name (or ``__main__`` at a prompt) is the user's.
            return module_name in sys.modules and module_name != "__main__"
        return is_library_file(file)

    def _record_library(self, module_name: str | None, name: str) -> None:
        """Third-party code: its distribution, by version if tracked."""
        if _top_module(module_name) in JOBLET_PACKAGES or _is_stdlib_module(
            module_name
        ):
            return
        if not self.track_versions:
            # Recorded by top-level module, without reading any metadata.
            top = _top_module(module_name) or name
            self.add(Dependency(top, DISTRIBUTION, None, "third-party, not tracked"))
            return
        found = distribution_of(module_name)
        if found is None:
            if _module_file(module_name) is not None:
                self.add(
                    Dependency(
                        name, BY_NAME, None, "installed, of no known distribution"
                    )
                )
            return
        dist, version = found
        digest = hash_value((dist, version), FAST_HASH_NAME)
        self.add(Dependency(dist, DISTRIBUTION, digest, version))

    def _visit_function(self, func: types.FunctionType) -> None:
        name = f"{func.__module__}.{func.__qualname__}"
        module = func.__module__
        top = _top_module(module)
        if (
            is_library_file(func.__code__.co_filename)
            or top in JOBLET_PACKAGES
            or _is_stdlib_module(module)
        ):
            self._record_library(module, name)
            return
        defaults = (func.__defaults__, func.__kwdefaults__)
        form: tuple[Any, ...] = (code_form(func.__code__), constant_digest(defaults))
        if func.__closure__:  # a function made by a factory: its cells count
            form += (_cell_digests(func),)
        digest = hash_value(form, FAST_HASH_NAME)
        self.watch.function(func)
        self.add(Dependency(name, FUNCTION, digest))
        self._follow_function_body(func, _owner_class(func))

    def _visit_class(self, cls: type) -> None:
        name = f"{cls.__module__}.{cls.__qualname__}"
        if self._is_library(cls.__module__):
            self._record_library(cls.__module__, name)
            return
        parts: list[tuple[str, Any]] = []
        for attr, value in sorted(vars(cls).items()):
            function = _function_in(value)
            if function is not None:
                parts.append((attr, code_form(function.__code__)))
            elif not attr.startswith("__") and constant_digest(value) is not None:
                parts.append((attr, constant_digest(value)))
        if isinstance(cls, enum.EnumMeta):  # members' values, not their objects
            members = [(m.name, value_digest(m.value)) for m in cls]  # type: ignore[var-annotated]
            parts.append(("<members>", members))
        bases = [f"{b.__module__}.{b.__qualname__}" for b in cls.__bases__]
        self.add(Dependency(name, CLASS, hash_value((bases, parts), FAST_HASH_NAME)))
        for attr, value in vars(cls).items():
            if _function_in(value) is not None:
                self.visit(value, f"{name}.{attr}")
        for base in cls.__bases__:
            if base is not object:
                self.visit(base, f"{base.__module__}.{base.__qualname__}")

    def _visit_module(self, module: types.ModuleType) -> None:
        """A module used as a value: any of its names may be read dynamically."""
        if self._is_library(module.__name__):
            self._record_library(module.__name__, module.__name__)
            return
        namespace = vars(module)
        for attr, value in sorted(namespace.items()):
            if attr.startswith("__") or isinstance(value, types.ModuleType):
                continue
            defined_here = getattr(value, "__module__", module.__name__)
            if defined_here == module.__name__ or constant_digest(value) is not None:
                self.watch.name(namespace, attr, value)
                self.visit(value, f"{module.__name__}.{attr}")

    def _visit_state(self, value: Any, name: str) -> None:
        """Module-level data of the user's: by content, up to a size."""
        digest, why = state_digest(value)
        if digest is None:
            self.add(Dependency(name, BY_NAME, None, f"{UNTRACKED}: {why}"))
        else:
            self.add(Dependency(name, CONSTANT, digest))

    def _visit_constant(self, value: Any, name: str) -> None:
        digest = constant_digest(value)
        if digest is None:
            self.add(Dependency(name, BY_NAME, None, "not plain data"))
        else:
            self.add(Dependency(name, CONSTANT, digest))

    def _visit_other(self, value: Any, name: str) -> None:
        """A C function, an object instance, or data too large or mutable to hash."""
        module = getattr(value, "__module__", None)
        if callable(value) and isinstance(module, str) and self._is_library(module):
            self._record_library(module, name)  # builtin or C extension function
            return
        module = type(value).__module__
        if _top_module(module) in JOBLET_PACKAGES:
            return  # a Memory, a cached function's wrapper: not data
        if not self._is_library(module):
            # an instance of the user's class: its code and its state
            self.visit(type(value), f"{module}.{type(value).__qualname__}")
            self._visit_state(value, name)
            return
        self._record_library(module, name)
        self.add(
            Dependency(
                name, BY_NAME, None, f"a {type(value).__qualname__}, not inspected"
            )
        )

    # -- following code ---------------------------------------------------------------

    def _follow_function_body(
        self, func: types.FunctionType, owner: type | None
    ) -> None:
        code = func.__code__
        self_name = (
            code.co_varnames[0] if owner is not None and code.co_argcount else None
        )
        module = func.__module__
        for nested in _nested_codes(code):
            for where, first, attributes in _loads(
                nested, self_name if nested is code else None
            ):
                if where == "self":
                    self._follow_self(owner, attributes)
                else:
                    self._follow_global(func, module, first, attributes)
        for index, cell_name in enumerate(code.co_freevars):
            cells = func.__closure__ or ()
            if index < len(cells):
                try:
                    content = cells[index].cell_contents
                except ValueError:
                    continue  # an empty cell
                if callable(content):
                    self.visit(content, f"{func.__qualname__}.<closure {cell_name}>")
        for default in [
            *(func.__defaults__ or ()),
            *(func.__kwdefaults__ or {}).values(),
        ]:
            if callable(default) and not isinstance(default, type(len)):
                self.visit(default, f"{func.__qualname__}.<default>")

    def _follow_global(
        self, func: types.FunctionType, module: str, name: str, attributes: list[str]
    ) -> None:
        namespace = func.__globals__
        if name in namespace:
            value = namespace[name]
        else:
            return  # a builtin or an undefined name: nothing to follow
        self.watch.name(namespace, name, value)
        qualified = f"{module}.{name}"
        for attribute in attributes:
            if not isinstance(value, types.ModuleType):
                break
            if self._is_library(value.__name__):
                self._record_library(value.__name__, value.__name__)
                return
            if not hasattr(value, attribute):
                self.add(
                    Dependency(
                        f"{value.__name__}.{attribute}", BY_NAME, None, "missing"
                    )
                )
                return
            qualified = f"{value.__name__}.{attribute}"
            self.watch.name(vars(value), attribute, getattr(value, attribute))
            value = getattr(value, attribute)
        self._note_reference(qualified, value)
        self.visit(value, qualified)

    def _note_reference(self, qualified: str, value: Any) -> None:
        """A user's name bound to a library function or class: what it names."""
        if not callable(value) or isinstance(value, types.ModuleType):
            return
        module = getattr(value, "__module__", None)
        if not isinstance(module, str) or not self._is_library(module):
            return
        if _top_module(module) in JOBLET_PACKAGES:
            return
        target = getattr(value, "__qualname__", None) or getattr(value, "__name__", "")
        digest = hash_value(f"{module}.{target}", FAST_HASH_NAME)
        self.add(Dependency(qualified, REFERENCE, digest, f"{module}.{target}"))

    def _follow_self(self, owner: type | None, attributes: list[str]) -> None:
        if owner is None or not attributes:
            return
        for cls in owner.__mro__:
            if attributes[0] in vars(cls):
                self.visit(
                    vars(cls)[attributes[0]],
                    f"{cls.__module__}.{cls.__qualname__}.{attributes[0]}",
                )
                return


def _cell_digests(func: types.FunctionType) -> list[str | None]:
    """Digests of the data in a function's closure cells (functions are followed)."""
    digests: list[str | None] = []
    for cell in func.__closure__ or ():
        try:
            content = cell.cell_contents
        except ValueError:  # an empty cell
            digests.append(None)
            continue
        digests.append(None if callable(content) else value_digest(content))
    return digests


def _function_in(value: Any) -> types.FunctionType | None:
    """The function a class attribute runs (method, static/class method, property)."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    elif isinstance(value, property):
        value = value.fget
    elif isinstance(value, functools.cached_property):
        value = value.func
    return value if isinstance(value, types.FunctionType) else None


def _owner_class(func: types.FunctionType) -> type | None:
    """The class a function is defined in, found by its qualified name."""
    parts = func.__qualname__.split(".")
    if len(parts) < 2 or "<locals>" in parts:
        return None
    value: Any = func.__globals__.get(parts[0])
    for part in parts[1:-1]:
        value = getattr(value, part, None)
    return value if isinstance(value, type) else None
