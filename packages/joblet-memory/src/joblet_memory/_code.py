"""The function's code record: what decides that a cached result is stale.

The record's ``digest`` is computed from the function's **compiled code**, not
its text: the bytecode, constants (docstring included), names, argument layout
and flags of the function and of every function, class body or comprehension
nested in it, plus the interpreter's bytecode tag (``cpython-311``). So:

Edits that keep the cache (they compile to the same code):

* comments, anywhere in the function;
* blank lines, and how a statement is split across lines;
* the indentation of the whole function (nesting it under ``if True:``);
* moving the function within its file, or to another file under the same
  module and name;
* spacing inside a line (``a+b`` and ``a + b``), and rewriting a constant
  expression to its value when Python folds it (``2 * 3`` and ``6``).

Edits that invalidate it: anything else that changes the compiled code, such as
a changed statement, operator, constant, called name or attribute, a renamed
local variable or argument, a changed docstring, an added or removed argument,
a changed nested function. Changing a default value changes the bound
arguments, so it gives new keys too. Not part of the record: the decorators and
annotations. A new Python minor version invalidates every record (its bytecode
differs).

Besides its own code, the record holds the function's **dependencies** (see
:mod:`joblet_memory._deps`): the user-code functions, classes and constants it
uses, followed transitively, third-party distributions (by version with
``track_versions``), and what ``depends_on`` names. ``digest`` combines them;
with no dependency that is part of the key, it is the function's own digest.

Builtins and numpy ufuncs have no Python code; their record is their name.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import os
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from joblet_hash import FAST_HASH_NAME
from joblet_hash import hash as hash_value
from joblet_hash.code import code_form, display_name

from ._dep_values import UNTRACKED
from ._deps import (
    BY_NAME,
    FUNCTION,
    VALUE,
    Dependency,
    DependencyWalker,
    _owner_class,
)
from ._keys import callable_kind
from ._warnings import CacheWarning, warn
from ._watch import Watch


def plain_function(func: Any) -> types.FunctionType | None:
    """The Python function under methods, partials and callable objects, or None."""
    kind, inner = callable_kind(func)
    if kind in ("partial", "method"):
        return plain_function(inner)
    if kind == "function":
        return cast(types.FunctionType, inner)
    if kind == "builtin":
        return None
    call = type(func).__dict__.get("__call__") or getattr(type(func), "__call__", None)  # noqa: B004
    return call if isinstance(call, types.FunctionType) else None


@dataclass(frozen=True)
class CodeRecord:
    """What is stored beside a function's entries (``func_code.json``).

    ``digest`` is what keys use: the function's own code (``own_digest``)
    combined with the digests of its ``dependencies``.
    """

    digest: str
    name: str
    file: str | None
    first_line: int
    source: str | None
    own_digest: str = ""
    dependencies: dict[str, Dependency] = field(default_factory=dict)
    #: What must stay the same objects for this record to be true (not stored).
    watch: Watch = field(default_factory=Watch, compare=False, repr=False)

    def is_current(self) -> bool:
        """Whether the code and names it was computed from are unchanged."""
        return self.watch.holds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "name": self.name,
            "file": self.file,
            "first_line": self.first_line,
            "source": self.source,
            "own_digest": self.own_digest or self.digest,
            "dependencies": {
                name: dep.to_list() for name, dep in sorted(self.dependencies.items())
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodeRecord:
        deps = data.get("dependencies") or {}
        return cls(
            digest=str(data["digest"]),
            name=str(data.get("name", "")),
            file=data.get("file"),
            first_line=int(data.get("first_line", -1)),
            source=data.get("source"),
            own_digest=str(data.get("own_digest") or data["digest"]),
            dependencies={
                str(name): Dependency.from_list(str(name), value)
                for name, value in (deps.items() if isinstance(deps, dict) else ())
            },
        )

    @classmethod
    def from_json(cls, text: str) -> CodeRecord:
        return cls.from_dict(json.loads(text))


UNCHECKED_DIGEST = "code not checked"


def unchecked_record(func: Any) -> CodeRecord:
    """The record of ``check_code=False``: the same whatever the code."""
    return CodeRecord(UNCHECKED_DIGEST, display_name(func), None, -1, None)


def _owner(func: Any, plain: types.FunctionType) -> type | None:
    """The class whose ``self`` the function's first argument is, if any."""
    if inspect.ismethod(func):
        owner = func.__self__
        return owner if isinstance(owner, type) else type(owner)
    if plain is not func and not isinstance(func, functools.partial):
        return type(func)  # a callable object: its __call__ is the code
    return _owner_class(plain)


def _explicit_dependencies(walker: DependencyWalker, depends_on: Sequence[Any]) -> None:
    for item in depends_on:
        if callable(item):
            plain = plain_function(item)
            name = f"depends_on {display_name(item)}"
            if plain is None:
                walker.visit(item, name)
                continue
            own = hash_value(
                (sys.implementation.cache_tag, code_form(plain.__code__)),
                FAST_HASH_NAME,
            )
            walker.add(Dependency(name, FUNCTION, own))
            walker.walk_root(plain, _owner(item, plain))
        else:
            digest = hash_value(item, FAST_HASH_NAME)
            walker.add(Dependency(f"depends_on {item!r:.80}", VALUE, digest))


def code_record(
    func: Any, track_versions: bool = False, depends_on: Sequence[Any] = ()
) -> CodeRecord:
    """The code record of ``func`` (see the module docstring for what counts)."""
    name = display_name(func)
    plain = plain_function(func)
    walker = DependencyWalker(track_versions)
    _explicit_dependencies(walker, depends_on)
    if plain is None:
        module = getattr(func, "__module__", None) or type(func).__module__
        own = hash_value(("builtin", str(module), name), FAST_HASH_NAME)
        file: str | None = None
        first_line = -1
        source: str | None = None
    else:
        code = plain.__code__
        own = hash_value(
            (sys.implementation.cache_tag, code_form(code)), FAST_HASH_NAME
        )
        try:
            walker.walk_root(plain, _owner(func, plain))
        except Exception as error:  # never let inspection break a call
            walker.add(Dependency(name, BY_NAME, None, f"not inspected: {error!r}"))
        try:
            source = inspect.getsource(plain)
        except (OSError, TypeError):
            source = None
        file, first_line = code.co_filename, code.co_firstlineno
    keyed = sorted(
        (dep_name, dep.digest)
        for dep_name, dep in walker.found.items()
        if dep.digest is not None
    )
    digest = hash_value((own, keyed), FAST_HASH_NAME) if keyed else own
    return CodeRecord(
        digest, name, file, first_line, source, own, walker.found, walker.watch
    )


_warned_untracked: set[tuple[str, tuple[str, ...]]] = set()


def _untracked(record: CodeRecord) -> tuple[str, ...]:
    return tuple(
        name
        for name, dep in sorted(record.dependencies.items())
        if dep.kind == BY_NAME and dep.detail.startswith(UNTRACKED)
    )


def untracked_details(record: CodeRecord) -> list[str]:
    """What ``explain`` says of the data the record does not track."""
    return [
        f"{name} is {record.dependencies[name].detail}: editing it does not "
        "recompute this entry"
        for name in _untracked(record)
    ]


def warn_untracked_once(func_id: str, record: CodeRecord) -> None:
    """Warn, once per process, about data the record could not track."""
    names = _untracked(record)
    if not names or (func_id, names) in _warned_untracked:
        return
    _warned_untracked.add((func_id, names))
    details = "; ".join(f"{n}: {record.dependencies[n].detail}" for n in names)
    warn(
        CacheWarning(
            f"{record.name} uses module-level data that the cache does not track "
            f"({details}): editing it will not recompute cached results. Pass it "
            "as an argument, or name what stands for it in depends_on=[...]"
        )
    )


def source_diff(old: str | None, new: str | None, context: int = 1) -> str:
    """A short unified diff of two sources ('' when either is unknown)."""
    if old is None or new is None:
        return ""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), "stored", "current", n=context, lineterm=""
    )
    return "\n".join(list(lines)[2:40])


def is_lambda(record: CodeRecord) -> bool:
    return record.name.endswith("<lambda>")


def still_in_file(record: CodeRecord) -> bool:
    """True if ``record``'s source is still found at its line in its file.

    When a function's record changed but the old code is still where it was,
    two different functions share a name: a collision, not an edit.
    """
    if not record.file or record.source is None or record.first_line < 1:
        return False
    if not os.path.exists(record.file):
        return record.file.startswith("<doctest ")
    try:
        with open(record.file, encoding="utf-8", errors="replace") as handle:
            lines = handle.readlines()
    except OSError:
        return False
    wanted = record.source.splitlines()
    start = record.first_line - 1
    found = [line.rstrip("\r\n") for line in lines[start : start + len(wanted)]]
    return [line.rstrip() for line in found] == [line.rstrip() for line in wanted]
