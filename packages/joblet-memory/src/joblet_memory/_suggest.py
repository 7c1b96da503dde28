"""A misspelled keyword of ``Memory(...)`` or ``Memory.cache(...)`` names the closest.

Python 3.13 suggests the closest keyword by itself; on 3.10-3.12 the error
only names the unknown one. The entry points users type by hand check their
keywords first and raise a ``TypeError`` worded by ``joblet_hash.names``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from joblet_hash.names import unknown_name_message

F = TypeVar("F", bound=Callable[..., Any])


def suggest_keywords(func: F) -> F:
    """Wrap ``func`` so that an unknown keyword raises TypeError with a suggestion.

    The signature is kept (``inspect.signature`` follows the wrapper), and a
    call with known keywords costs one set lookup per keyword.
    """
    parameters = inspect.signature(func).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return func
    known = [name for name in parameters if name != "self"]
    accepted = frozenset(known)
    where = f"{func.__qualname__.replace('.__init__', '')}()"

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for name in kwargs:
            if name not in accepted:
                raise TypeError(
                    unknown_name_message(f"keyword argument of {where}", name, known)
                )
        return func(*args, **kwargs)

    return checked  # type: ignore[return-value]
