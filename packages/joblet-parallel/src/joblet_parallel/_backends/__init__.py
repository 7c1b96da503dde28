"""The backend protocol (joblib's, so joblib backends port by changing imports)
and the built-in backends: sequential, threading, multiprocessing and our
process executor (named 'loky' for joblib code).

One module per backend, as httpx's ``_transports/``: the protocol (``_base``),
the batching heuristic (``_auto_batching``), the memmapping of large arguments
(``_large_arrays``), and the sequential, threading, process ('loky') and
multiprocessing backends; ``_claims`` decides which instance a call runs on.
"""

from ._auto_batching import AutoBatchingMixin
from ._base import ParallelBackendBase
from ._claims import claim_backend, is_multiprocessing_context, release_backend
from ._multiprocessing import MultiprocessingBackend
from ._process import ProcessBackend
from ._sequential import SequentialBackend
from ._threading import ThreadingBackend

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
