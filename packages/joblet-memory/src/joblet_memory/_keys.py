"""Function identity and argument binding: what a cache key is made of.

* The **function id** names the function's folder in the store:
  ``<module parts>/<qualified name>``. Functions of a script run as ``__main__``
  are told apart by the script's path (``__main__--home-me-run/f``); functions
  typed at a prompt or given to ``python -c`` live under ``__main__``.
* The **arguments** are bound to the signature with defaults applied, so
  ``f(1)``, ``f(x=1)`` and ``f(1, y=<default>)`` are the same call. Names listed
  in ``ignore`` are dropped. A bound method's ``self`` is an argument (and can be
  ignored); a ``functools.partial``'s frozen arguments, a closure's captured
  values and a callable object's own state are part of the key as the
  function's *state*.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import re
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

from joblet_hash.code import display_name

from ._errors import CallArgumentsError
from ._warnings import warn

_WINDOWS_UNSAFE = re.compile(r'[<>:"|?*]')


def _main_script_part() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return "__main__"
    stem = os.path.splitext(os.path.abspath(path))[0]
    return "__main__" + re.sub(r"[\\/:]+", "-", stem)


def function_id(func: Any) -> str:
    """``module/parts/qualname``: the function's folder, relative to the store."""
    if isinstance(func, functools.partial):
        return function_id(func.func)
    module = getattr(func, "__module__", None)
    if not isinstance(module, str):
        module = type(func).__module__
    parts = ([_main_script_part()] if module == "__main__" else module.split(".")) + [
        display_name(func)
    ]
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        parts = [_WINDOWS_UNSAFE.sub("-", part) for part in parts]
    return "/".join(parts)


class ArgumentBinder:
    """Bind ``(args, kwargs)`` to ``func``'s signature, defaults applied, ignore removed.

    Parameters
    ----------
    func : callable
        The cached callable. Bound methods are bound with ``self`` first.
    ignore : iterable of str
        Argument names left out of the key. A name that is not a parameter is a
        ``ValueError`` at once, unless the function takes ``**kwargs``.
    """

    def __init__(self, func: Callable[..., Any], ignore: Iterable[str] = ()) -> None:
        self.ignore = frozenset(ignore)
        self._self: tuple[Any, ...] = ()
        target: Any = func
        if inspect.ismethod(func):
            self._self = (func.__self__,)
            target = func.__func__
        try:
            self.signature: inspect.Signature | None = inspect.signature(target)
        except (TypeError, ValueError):
            self.signature = None
        self._varkw_name: str | None = None
        self._fast_names: tuple[str, ...] | None = None
        self._defaults: dict[str, Any] = {}
        if self.signature is None:
            if self.ignore:
                raise ValueError(
                    f"ignore={sorted(self.ignore)!r} cannot be applied to "
                    f"{display_name(func)!r}: its signature cannot be inspected"
                )
            return
        params = self.signature.parameters
        kinds = {p.kind for p in params.values()}
        for param in params.values():
            if param.kind is param.VAR_KEYWORD:
                self._varkw_name = param.name
        unknown = self.ignore - set(params)
        if unknown and self._varkw_name is None:
            raise ValueError(
                f"ignore lists {sorted(unknown)!r}, which "
                f"{'is not a parameter' if len(unknown) == 1 else 'are not parameters'} "
                f"of {display_name(func)}{self.signature}; valid names are "
                f"{list(params)!r}"
            )
        if kinds <= {inspect.Parameter.POSITIONAL_OR_KEYWORD}:
            self._fast_names = tuple(params)
            self._defaults = {
                p.name: p.default for p in params.values() if p.default is not p.empty
            }

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by name, in signature order, ``ignore`` removed.

        Raises :class:`CallArgumentsError` (a ``TypeError`` as Python raises,
        and a ``ValueError`` as joblib raises) when the call does not match.
        """
        if self._self:
            args = self._self + args
        names = self._fast_names
        if names is not None and len(args) <= len(names):
            bound = dict(zip(names, args, strict=False))
            used = 0
            for name in names[len(args) :]:
                if name in kwargs:
                    bound[name] = kwargs[name]
                    used += 1
                elif name in self._defaults:
                    bound[name] = self._defaults[name]
                else:
                    break  # missing argument: let inspect word the error
            else:
                if used == len(kwargs):
                    return self._drop_ignored(bound)
            # unknown or duplicated keyword, or missing argument: inspect decides.
        if self.signature is None:
            return {"*args": args, "**kwargs": kwargs}
        try:
            full = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise CallArgumentsError(
                f"{error} (calling the cached function {self.signature})"
            ) from None
        full.apply_defaults()
        return self._drop_ignored(dict(full.arguments))

    def _drop_ignored(self, bound: dict[str, Any]) -> dict[str, Any]:
        if not self.ignore:
            return bound
        for name in self.ignore:
            if name in bound:
                del bound[name]
            elif self._varkw_name is not None:
                extra = bound.get(self._varkw_name)
                if extra and name in extra:
                    bound[self._varkw_name] = {
                        k: v for k, v in extra.items() if k != name
                    }
        return bound


def callable_kind(func: Any) -> tuple[str, Any]:
    """What kind of callable ``func`` is, and what it wraps.

    ``('partial', the function)``, ``('method', the function)``,
    ``('function', func)``, ``('builtin', func)`` (C functions and numpy ufuncs)
    or ``('object', func)`` (an instance of a class with ``__call__``).
    """
    if isinstance(func, functools.partial):
        return "partial", func.func
    if inspect.ismethod(func):
        return "method", func.__func__
    if isinstance(func, types.FunctionType):
        return "function", func
    if inspect.isbuiltin(func) or type(func).__name__ == "ufunc":
        return "builtin", func
    return "object", func


def closure_state(func: Any) -> tuple[Any, ...] | None:
    """What the function carries besides its code, hashed into every key.

    A partial's frozen arguments, or a callable object itself. None for plain
    functions: the values a closure captures are not part of the key (as in
    joblib), since they are often counters, loggers or the ``Memory`` itself;
    pass what the result depends on as arguments.
    """
    kind, inner = callable_kind(func)
    if kind == "partial":
        return ("partial", func.args, func.keywords, closure_state(inner))
    if kind == "method":
        return closure_state(inner)
    if kind == "object":
        return ("object", func)
    return None


def warn_unhashable_state(func: Any, error: Exception) -> None:
    warn(
        f"the state of {display_name(func)!r} (a partial's arguments or the "
        f"callable object) cannot be hashed ({error}); it is left out of the cache "
        "keys, so results computed with another state may be returned."
    )


def entry_id(code_digest: str, args_digest: str) -> str:
    """The entry's name: the code digest and the arguments' digest combined.

    Kept apart from the (costly) argument hash so that ``explain`` can name the
    entry the same arguments had under other code.
    """
    text = f"{code_digest}/{args_digest}".encode()
    return hashlib.blake2b(text, digest_size=16).hexdigest()
