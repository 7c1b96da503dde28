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
arguments, so it gives new keys too. Not part of the record: the decorators,
annotations, and the code of *other* functions called by this one (edit those
and clear the cache yourself). A new Python minor version invalidates every
record (its bytecode differs).

Builtins and numpy ufuncs have no Python code; their record is their name.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import types
from dataclasses import asdict, dataclass
from typing import Any

from joblet_hash import FAST_HASH_NAME
from joblet_hash import hash as hash_value

from ._keys import function_name


def plain_function(func: Any) -> types.FunctionType | None:
    """The Python function under methods, partials and callable objects, or None."""
    if isinstance(func, functools.partial):
        return plain_function(func.func)
    if inspect.ismethod(func):
        return plain_function(func.__func__)
    if isinstance(func, types.FunctionType):
        return func
    if inspect.isbuiltin(func) or type(func).__name__ == "ufunc":
        return None
    call = type(func).__dict__.get("__call__") or getattr(type(func), "__call__", None)  # noqa: B004
    return call if isinstance(call, types.FunctionType) else None


def _code_tuple(code: types.CodeType) -> tuple[Any, ...]:
    consts = tuple(
        _code_tuple(const) if isinstance(const, types.CodeType) else const
        for const in code.co_consts
    )
    return (
        code.co_name,
        code.co_code,
        consts,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
        getattr(code, "co_exceptiontable", b""),
    )


@dataclass(frozen=True)
class CodeRecord:
    """What is stored beside a function's entries (``func_code.json``)."""

    digest: str
    name: str
    file: str | None
    first_line: int
    source: str | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> CodeRecord:
        data = json.loads(text)
        return cls(
            digest=str(data["digest"]),
            name=str(data.get("name", "")),
            file=data.get("file"),
            first_line=int(data.get("first_line", -1)),
            source=data.get("source"),
        )


def code_record(func: Any) -> CodeRecord:
    """The code record of ``func`` (see the module docstring for what counts)."""
    name = function_name(func)
    plain = plain_function(func)
    if plain is None:
        module = getattr(func, "__module__", None) or type(func).__module__
        identity = ("builtin", str(module), name)
        return CodeRecord(hash_value(identity, FAST_HASH_NAME), name, None, -1, None)
    code = plain.__code__
    digest = hash_value(
        (sys.implementation.cache_tag, _code_tuple(code)), FAST_HASH_NAME
    )
    try:
        source: str | None = inspect.getsource(plain)
    except (OSError, TypeError):
        source = None
    return CodeRecord(digest, name, code.co_filename, code.co_firstlineno, source)


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
