"""What a function's compiled code is, free of how its source was laid out.

Also the short name of a callable that messages show (:func:`display_name`),
the same in every distribution.

The one home of "what a code object computes" for every joblet distribution:
``joblet_hash.hash`` reduces local functions and lambdas to it, and
joblet-memory's code records (which decide whether a cached result is still
valid) compare it. joblet-hash is the lowest layer, so the siblings import this
module (``from joblet_hash.code import code_form``); it is not part of the user
API that ``joblet`` re-exports.

Line numbers, file names and the raw byte layout are left out: moving a function
in its file, or splitting one of its statements over two lines, keeps its form.
Python 3.13 forms some superinstructions (``LOAD_FAST_LOAD_FAST``) only within
one source line and places ``NOP`` line markers, so raw ``co_code`` would change
with the layout; the instructions here are expanded, jump targets and exception
ranges counted in instructions, not bytes. Bytecode still differs between
Python versions, so callers that persist a form record the interpreter with it.
"""

from __future__ import annotations

import dis
import functools
import types
from collections.abc import Callable
from typing import Any

__all__ = ["code_form", "display_name", "instructions", "names_read"]

# Superinstructions the compiler forms only within one source line (3.13):
# expanded, so that splitting a statement over lines keeps the code the same.
_SUPERINSTRUCTIONS = {
    "LOAD_FAST_LOAD_FAST": ("LOAD_FAST", "LOAD_FAST"),
    "STORE_FAST_LOAD_FAST": ("STORE_FAST", "LOAD_FAST"),
    "STORE_FAST_STORE_FAST": ("STORE_FAST", "STORE_FAST"),
}
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_LAYOUT_ONLY = frozenset({"NOP", "EXTENDED_ARG", "CACHE"})

# Code objects compare (and hash) by content, so equal code shares one entry.
_known: dict[types.CodeType, tuple[Any, ...]] = {}
_MAX_KNOWN = 4096


def instructions(code: types.CodeType) -> tuple[Any, ...]:
    """The instructions of ``code`` as ``(opname, arg)``, free of layout details.

    Jump targets and exception-table ranges become instruction indices, line
    markers (``NOP``) are dropped and superinstructions formed within a line are
    expanded: what is compared is what runs, not how it was laid out. Nested
    code objects (in ``co_consts``) are not included.

    Returns
    -------
    tuple
        ``(instructions, exception_table)``.
    """
    known = _known.get(code)
    if known is None:
        if len(_known) >= _MAX_KNOWN:
            _known.clear()
        known = _known[code] = _normalized(code)
    return known


def _normalized(code: types.CodeType) -> tuple[Any, ...]:
    normalized: list[tuple[str, Any]] = []
    index_at: dict[int, int] = {}
    jumps: list[tuple[int, int]] = []
    for instruction in dis.get_instructions(code):
        index_at[instruction.offset] = len(normalized)
        name, arg = instruction.opname, instruction.arg
        if name in _LAYOUT_ONLY:
            continue
        if name in _SUPERINSTRUCTIONS and isinstance(arg, int):
            first, second = _SUPERINSTRUCTIONS[name]
            normalized += [(first, arg >> 4), (second, arg & 15)]
            continue
        if instruction.opcode in _JUMPS and isinstance(instruction.argval, int):
            jumps.append((len(normalized), instruction.argval))
        normalized.append((name, arg))
    end = len(normalized)
    for position, target in jumps:
        normalized[position] = (
            normalized[position][0],
            ("->", index_at.get(target, end)),
        )
    entries = getattr(dis.Bytecode(code), "exception_entries", ())
    table = tuple(
        (
            index_at.get(entry.start, end),
            index_at.get(entry.end, end),
            index_at.get(entry.target, end),
            entry.depth,
            entry.lasti,
        )
        for entry in entries
    )
    return (tuple(normalized), table)


def code_form(
    code: types.CodeType, reduce_const: Callable[[Any], Any] | None = None
) -> tuple[Any, ...]:
    """What ``code`` computes, as a tuple of plain values (nested code included).

    Parameters
    ----------
    code : types.CodeType
        A function's ``__code__`` (or any code object).
    reduce_const : callable, optional
        Applied to every constant that is not itself code (``hash`` reduces
        them to its canonical form); by default constants are kept as they are.

    Returns
    -------
    tuple
        The code's name, :func:`instructions`, constants, names, local and
        cell variable names, argument counts and flags.
    """
    consts = tuple(
        code_form(const, reduce_const)
        if isinstance(const, types.CodeType)
        else (const if reduce_const is None else reduce_const(const))
        for const in code.co_consts
    )
    return (
        code.co_name,
        instructions(code),
        consts,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
    )


def names_read(code: types.CodeType) -> set[str]:
    """Names the code (and the code nested in it) may look up as globals."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= names_read(const)
    return names


def display_name(func: Any) -> str:
    """The short name of a callable for messages: ``square``, ``Model.fit``, ``<lambda>``.

    A ``functools.partial`` is named by the function it wraps; an object
    without a name by its type.
    """
    while isinstance(func, functools.partial):
        func = func.func
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if not isinstance(name, str):
        name = type(func).__qualname__
    return name
