"""joblet-hash: fast, deterministic fingerprints of Python objects and arrays.

>>> from joblet_hash import hash
>>> hash([1, 2, 3]) == hash([1, 2, 3])
True
"""

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
