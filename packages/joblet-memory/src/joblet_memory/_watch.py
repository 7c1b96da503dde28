"""What must stay the same objects for a code record to stay true.

The dependency walk (:mod:`._deps`) notes each function it followed and each
global name it read; a cached function checks them on every call, so that a
``__code__`` replaced in place (IPython's ``%autoreload``) or a re-bound name
recomputes the record at the next call.
"""

from __future__ import annotations

import types
from typing import Any

_ABSENT = object()


class Watch:
    """What must stay the same objects for a code record to stay true.

    ``functions``: ``(function, code, defaults)`` of every followed function;
    ``names``: ``(namespace, name, value)`` of every global name read. Checking
    is a few identity comparisons per dependency, cheap enough for every call.
    """

    __slots__ = ("functions", "names")

    def __init__(self) -> None:
        self.functions: list[tuple[types.FunctionType, Any, Any]] = []
        self.names: list[tuple[Any, str, Any]] = []

    def function(self, func: types.FunctionType) -> None:
        self.functions.append((func, func.__code__, func.__defaults__))

    def name(self, namespace: Any, name: str, value: Any) -> None:
        self.names.append((namespace, name, value))

    def holds(self) -> bool:
        """Whether every watched function and name is as it was."""
        for func, code, defaults in self.functions:
            if func.__code__ is not code or func.__defaults__ is not defaults:
                return False
        for namespace, name, value in self.names:
            if namespace.get(name, _ABSENT) is not value:
                return False
        return True
