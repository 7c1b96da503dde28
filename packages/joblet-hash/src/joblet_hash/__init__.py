"""joblet-hash: fast, deterministic fingerprints of Python objects and arrays.

>>> from joblet_hash import hash
>>> hash([1, 2, 3]) == hash([1, 2, 3])
True

The names below are imported on first use (PEP 562), so that a sibling
distribution importing only :mod:`joblet_hash.threads` does not pay for the
hashing machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_attributes

if TYPE_CHECKING:
    from ._algorithms import FAST_HASH_NAME, HASH_NAMES
    from ._errors import UnhashableObjectError
    from ._fingerprint import register_fingerprint
    from ._hash import hash

__version__ = "0.1.0"

__all__ = [
    # hashing
    "hash",
    "HASH_NAMES",
    "FAST_HASH_NAME",
    # extension point for user types
    "register_fingerprint",
    # errors
    "UnhashableObjectError",
    "__version__",
]

# public name -> the module that defines it
_HOMES = {
    "hash": "._hash",
    "HASH_NAMES": "._algorithms",
    "FAST_HASH_NAME": "._algorithms",
    "register_fingerprint": "._fingerprint",
    "UnhashableObjectError": "._errors",
}
__getattr__ = lazy_attributes(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
