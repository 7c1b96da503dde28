"""delayed: capture a function call as a (function, args, kwargs) task."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

# delayed(f) is typically called once per task (``delayed(f)(i) for i in ...``):
# the wrapper is cached per function so that this costs a dict lookup, not a
# functools.wraps. The cache holds the functions, so an id is never reused.
_cache: dict[int, tuple[Callable[..., Any], Callable[..., Any]]] = {}
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def _make(function: Callable[..., Any]) -> Callable[..., Any]:
    def delayed_function(
        *args: Any, **kwargs: Any
    ) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        return function, args, kwargs

    try:
        delayed_function = functools.wraps(function)(delayed_function)
    except (AttributeError, TypeError):
        pass
    return delayed_function


def delayed(
    function: Callable[..., Any],
) -> Callable[..., tuple[Any, tuple[Any, ...], dict[str, Any]]]:
    """Capture the arguments of a call without running it.

    ``delayed(f)(*args, **kwargs)`` returns the task ``(f, args, kwargs)`` that
    :class:`Parallel` runs. Also usable as a decorator.

    Parameters
    ----------
    function : callable
        The function to call in a worker.

    Returns
    -------
    callable
        A function with ``function``'s name and docstring that returns the task.

    Examples
    --------
    >>> from joblet_parallel import delayed
    >>> delayed(abs)(-3)
    (<built-in function abs>, (-3,), {})
    """
    key = id(function)
    entry = _cache.get(key)
    if entry is not None and entry[0] is function:
        return entry[1]
    wrapper = _make(function)
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[key] = (function, wrapper)
    return wrapper
