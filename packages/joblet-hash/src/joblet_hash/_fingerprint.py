"""The extension point through which user types give their own fingerprint.

A type opts in in one of two ways, checked in this order:

1. ``register_fingerprint(cls, func)``: ``func(obj)`` returns the value to hash in
   place of ``obj``; it applies to ``cls`` and its subclasses. Use it for classes
   you do not own.
2. A ``__joblet_fingerprint__(self)`` method on the class, returning that value.

The returned value is hashed like any other argument (it may hold arrays, dicts,
other fingerprinted objects) together with the object's class, so two classes
returning the same parameters still hash apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FINGERPRINT_METHOD = "__joblet_fingerprint__"

_registry: dict[type, Callable[[Any], Any]] = {}
# Bumped on every registration so that per-type caches know to forget.
registry_version = [0]


def register_fingerprint(cls: type, func: Callable[[Any], Any]) -> None:
    """Hash instances of ``cls`` (and its subclasses) by ``func(instance)``.

    Parameters
    ----------
    cls : type
        The class whose instances get a custom fingerprint.
    func : callable
        Called with an instance; returns the value that identifies it, for
        example the parameters a model was built with.

    Examples
    --------
    >>> import threading
    >>> from joblet_hash import hash, register_fingerprint
    >>> class Model:
    ...     def __init__(self, alpha):
    ...         self.alpha = alpha
    ...         self.lock = threading.Lock()  # not hashable on its own
    >>> register_fingerprint(Model, lambda model: {"alpha": model.alpha})
    >>> hash(Model(0.5)) == hash(Model(0.5)) != hash(Model(0.1))
    True
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_fingerprint expects a class, got {cls!r}")
    if not callable(func):
        raise TypeError(f"register_fingerprint expects a callable, got {func!r}")
    _registry[cls] = func
    registry_version[0] += 1


def fingerprint_function(cls: type) -> Callable[[Any], Any] | None:
    """The fingerprint function that applies to ``cls``, or None."""
    for base in cls.__mro__:
        if base in _registry:
            return _registry[base]
    method: object = getattr(cls, FINGERPRINT_METHOD, None)
    return method if callable(method) else None
