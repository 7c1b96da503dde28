"""Functions hashed by what they compute, not by their name.

Every ``<lambda>``, and every closure or local function of one name, shares its
qualified name: hashed by name, ``f(lambda v: v + 1)`` and ``f(lambda v: v * 2)``
would share a cache entry. A Python function is therefore reduced to its
compiled code (bytecode, constants, names, nested code objects), its defaults,
the contents of its closure cells and the values of the globals its code reads.
A module-level function (reachable as ``module.qualname``) is reduced to its
qualified name plus its code: the globals it reads are part of the program,
like the module it comes from.

The code's file name, line numbers and layout are left out (see
:mod:`joblet_hash.code`), so that moving a function in its file or splitting a
statement over lines keeps its hash; bytecode differs between Python versions,
so the hash of a function does too (hashes are stable within one installation).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

from ._errors import UnhashableObjectError
from .code import code_form as compiled_form
from .code import names_read

FUNCTION_TAG = b"\x00function"
CODE_TAG = b"\x00code"
EMPTY_CELL_TAG = b"\x00empty-cell"
OPAQUE_GLOBAL_TAG = b"\x00opaque-global"


def code_form(code: types.CodeType, canon: Callable[[Any], Any]) -> tuple[Any, ...]:
    """The canonical form of a code object; ``canon`` reduces its constants.

    What the code computes (:func:`joblet_hash.code.code_form`, the form
    joblet-memory's code records compare too), tagged as code.
    """
    return (CODE_TAG, *compiled_form(code, canon))


def is_module_level(func: types.FunctionType) -> bool:
    """``func`` is what its module holds under its qualified name."""
    qualname = func.__qualname__
    if "<locals>" in qualname or "<lambda>" in qualname:
        return False
    target: Any = sys.modules.get(func.__module__)
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            return False
    return target is func


def function_form(
    func: types.FunctionType, canon: Callable[[Any], Any]
) -> tuple[Any, ...]:
    """The canonical form of a Python function (see the module docstring)."""
    code = code_form(func.__code__, canon)
    head = (FUNCTION_TAG, func.__module__, func.__qualname__, code)
    if is_module_level(func):
        return head
    return (
        *head,
        _part(canon, func.__defaults__, ".__defaults__"),
        _part(canon, func.__kwdefaults__, ".__kwdefaults__"),
        tuple(_cell(canon, cell, i) for i, cell in enumerate(func.__closure__ or ())),
        _globals_read(canon, func),
    )


def _part(canon: Callable[[Any], Any], value: Any, where: str) -> Any:
    try:
        return canon(value)
    except UnhashableObjectError as error:
        error.add_parent(where)
        raise


def _cell(canon: Callable[[Any], Any], cell: Any, index: int) -> Any:
    try:
        contents = cell.cell_contents
    except ValueError:  # a cell not yet assigned
        return EMPTY_CELL_TAG
    return _part(canon, contents, f".__closure__[{index}]")


def _globals_read(canon: Callable[[Any], Any], func: types.FunctionType) -> Any:
    namespace = func.__globals__
    values: list[tuple[Any, ...]] = []
    for name in sorted(names_read(func.__code__)):
        if name not in namespace:
            continue  # a builtin, or an attribute name
        value = namespace[name]
        try:
            values.append((name, canon(value)))
        except UnhashableObjectError:
            # A global without deterministic content (a lock, a client): its
            # name and type still tell two functions apart.
            cls = type(value)
            values.append((name, OPAQUE_GLOBAL_TAG, cls.__module__, cls.__qualname__))
    return tuple(values)
