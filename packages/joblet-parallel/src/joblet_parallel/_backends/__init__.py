"""The backend protocol (joblib's, so joblib backends port by changing imports)
and the built-in backends: sequential, threading, multiprocessing and our
process executor (named 'loky' for joblib code).

One module per backend, as httpx's ``_transports/``: the protocol and the
sequential backend it nests into (``_base``), the batching heuristic
(``_auto_batching``), the memmapping of large arguments (``_large_arrays``),
and the threading, process ('loky') and multiprocessing backends;
``_claims`` decides which instance a call runs on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from joblet_hash.lazy import lazy_attributes

if TYPE_CHECKING:
    from ._auto_batching import AutoBatchingMixin
    from ._base import ParallelBackendBase, SequentialBackend
    from ._claims import claim_backend, is_multiprocessing_context, release_backend
    from ._multiprocessing import MultiprocessingBackend
    from ._process import ProcessBackend
    from ._threading import ThreadingBackend

# Loaded on first use: a worker unpickling its nested backend (sequential or
# threads) loads that backend's module only.
_HOMES = {
    "AutoBatchingMixin": "._auto_batching",
    "ParallelBackendBase": "._base",
    "claim_backend": "._claims",
    "is_multiprocessing_context": "._claims",
    "release_backend": "._claims",
    "MultiprocessingBackend": "._multiprocessing",
    "ProcessBackend": "._process",
    "SequentialBackend": "._base",
    "ThreadingBackend": "._threading",
}


__getattr__ = lazy_attributes(__name__, _HOMES)

__all__ = [
    "AutoBatchingMixin",
    "MultiprocessingBackend",
    "ParallelBackendBase",
    "ProcessBackend",
    "SequentialBackend",
    "ThreadingBackend",
    "claim_backend",
    "is_multiprocessing_context",
    "release_backend",
]
