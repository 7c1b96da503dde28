"""joblet-memory: transparent disk-caching of function results.

>>> import shutil, tempfile
>>> from joblet_memory import Memory
>>> location = tempfile.mkdtemp()
>>> memory = Memory(location, verbose=0)
>>> square = memory.cache(lambda x: x * x)
>>> square(3), square(3)  # the second call reads the cache
(9, 9)
>>> shutil.rmtree(location)
"""

from ._async import AsyncMemorizedFunc
from ._counters import CacheInfo
from ._errors import (
    CallArgumentsError,
    SignatureError,
    UnhashableArgumentError,
    UnknownStoreBackendError,
)
from ._expiry import expires_after
from ._explain import Explanation
from ._limits import CacheItemInfo
from ._memorized import MemorizedFunc
from ._memory import Memory
from ._results import MemorizedResult, NotMemorizedResult
from ._stores._base import StoreBackendBase
from ._stores._local import FileSystemStoreBackend
from ._stores._registry import register_store_backend
from ._warnings import CacheWarning, JobletCollisionWarning

__version__ = "0.1.0"

__all__ = [
    # caching
    "Memory",
    "MemorizedFunc",
    "AsyncMemorizedFunc",
    "MemorizedResult",
    "NotMemorizedResult",
    "expires_after",
    # why a call hits or misses
    "Explanation",
    "CacheInfo",
    # errors
    "UnhashableArgumentError",
    "CallArgumentsError",
    "UnknownStoreBackendError",
    "SignatureError",
    # store backends
    "StoreBackendBase",
    "FileSystemStoreBackend",
    "register_store_backend",
    "CacheItemInfo",
    # warnings
    "CacheWarning",
    "JobletCollisionWarning",
    "__version__",
]
