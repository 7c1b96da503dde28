"""joblet: lightweight pipelining in Python.

One import for the whole joblib-style API, re-exported from the distributions
that own each part (today: ``hash`` from joblet-hash; the rest land with their
issues). This module holds no logic of its own.

>>> import joblet
>>> joblet.hash([1, 2, 3]) == joblet.hash([1, 2, 3])
True
"""

from joblet_hash import hash

__version__ = "0.1.0"

__all__ = [
    # hashing (joblet-hash)
    "hash",
    "__version__",
]
