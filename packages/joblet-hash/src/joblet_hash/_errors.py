"""The error raised for arguments that have no deterministic fingerprint."""

from __future__ import annotations

import pickle


class UnhashableObjectError(pickle.PicklingError, TypeError):
    """An object inside the hashed value cannot be fingerprinted.

    Raised for objects with no stable content, such as locks, generators, open
    sockets or files. The message names the type and where the object sits inside
    the hashed value (``obj[1]['model'].lock``). It subclasses both
    :class:`pickle.PicklingError` (what joblib raises) and :class:`TypeError`.

    Attributes
    ----------
    type_name : str
        Qualified name of the offending object's type.
    reason : str
        Why it could not be reduced (usually pickle's own message).
    root : str
        Name given to the hashed value in the message; callers such as
        ``Memory`` set it to the argument's name.
    """

    def __init__(self, type_name: str, reason: str) -> None:
        super().__init__(type_name, reason)
        self.type_name = type_name
        self.reason = reason
        self.root = "obj"
        # Filled innermost first while the error travels up the walk.
        self._reversed_path: list[str] = []

    def add_parent(self, step: str) -> None:
        """Record one step (``[2]``, ``['key']``, ``.attr``) on the way out."""
        self._reversed_path.append(step)

    @property
    def path(self) -> str:
        """Where the object sits, relative to the root: ``[1]['model'].lock``."""
        return "".join(reversed(self._reversed_path))

    def __str__(self) -> str:
        return (
            f"cannot hash {self.root}{self.path}: objects of type {self.type_name!r} "
            f"have no deterministic content ({self.reason}). Leave it out of the "
            "hashed value, or give its class a __joblet_fingerprint__() method "
            "(or call joblet_hash.register_fingerprint) returning what identifies it."
        )
