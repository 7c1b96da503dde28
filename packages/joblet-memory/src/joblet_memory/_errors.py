"""The errors of joblet-memory, in one place.

::

    Exception
     ├── SignatureError             a cache entry is unsigned or forged: never unpickled
     ├── UnhashableObjectError      (joblet-hash)
     │    └── UnhashableArgumentError   an argument of a cached call cannot be hashed
     ├── TypeError, ValueError
     │    └── CallArgumentsError        a call does not match the cached function's
     │                                  signature (TypeError as Python, ValueError as joblib)
     └── ValueError, TypeError
          └── UnknownStoreBackendError  no store backend of that name
                                        (ValueError as joblet 0.1, TypeError as joblib)

Warnings (``CacheWarning``, ``JobletCollisionWarning``) live in
:mod:`joblet_memory._warnings`.
"""

from __future__ import annotations

from joblet_hash import UnhashableObjectError

__all__ = [
    "CallArgumentsError",
    "SignatureError",
    "UnhashableArgumentError",
    "UnknownStoreBackendError",
]


class SignatureError(Exception):
    """A cache entry is unsigned or its signature does not match; never unpickled.

    Attributes
    ----------
    reason : str
        ``'unsigned'``, ``'bad signature'`` or ``'other key'``.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class UnhashableArgumentError(UnhashableObjectError):
    """An argument of a cached call cannot be hashed; names it and the fix."""

    def __init__(self, error: UnhashableObjectError, argument: str, func: str) -> None:
        super().__init__(error.type_name, error.reason)
        self._path = error.path
        self.root = argument
        self.func = func

    @property
    def path(self) -> str:
        return self._path

    def __str__(self) -> str:
        return (
            f"cannot hash the argument {self.root!r} of the cached function "
            f"{self.func} (at {self.root}{self.path}: objects of type "
            f"{self.type_name!r} have no deterministic content). If the result does "
            f"not depend on it, pass ignore=[{self.root!r}] to memory.cache; "
            "otherwise pass what identifies it instead, or give its class a "
            "__joblet_fingerprint__() method."
        )


class CallArgumentsError(TypeError, ValueError):
    """A call of a cached function does not match the function's signature.

    A ``TypeError``, as calling the plain function raises, and a
    ``ValueError``, as joblib's ``Memory`` raises: code written for either
    catches it.
    """


class UnknownStoreBackendError(ValueError, TypeError):
    """``Memory(backend=...)`` names no registered store backend.

    The message suggests the closest registered name. A ``TypeError`` too, as
    joblib raises for an unknown backend.
    """
