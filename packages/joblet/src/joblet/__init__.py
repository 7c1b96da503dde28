"""joblet: lightweight pipelining in Python.

One import for the whole joblib-style API, re-exported unchanged from the
distribution that owns each part. This module holds no logic of its own.

>>> import joblet
>>> joblet.hash([1, 2, 3]) == joblet.hash([1, 2, 3])
True
"""

from joblet_hash import UnhashableObjectError, hash, register_fingerprint
from joblet_memory import (
    CacheWarning,
    JobletCollisionWarning,
    MemorizedFunc,
    MemorizedResult,
    Memory,
    NotMemorizedResult,
    StoreBackendBase,
    expires_after,
    register_store_backend,
)
from joblet_parallel import (
    AutoBatchingMixin,
    Logger,
    Parallel,
    ParallelBackendBase,
    PrintTime,
    RemoteTraceback,
    TaskPicklingError,
    TerminatedWorkerError,
    UnknownBackendError,
    cpu_count,
    delayed,
    effective_n_jobs,
    get_active_backend,
    parallel_backend,
    parallel_config,
    register_parallel_backend,
    shared_array,
    shared_empty,
    wrap_non_picklable_objects,
)
from joblet_persist import (
    CompressorWrapper,
    FormatError,
    TruncatedFileError,
    UnsafeGlobalError,
    UnsupportedVersionError,
    dump,
    dumps,
    load,
    loads,
    register_compressor,
)

from . import logger as logger  # joblib.logger's names (scikit-learn reaches them)

__version__ = "0.1.0"

__all__ = [
    # caching (joblet-memory)
    "Memory",
    "MemorizedResult",
    "MemorizedFunc",
    "NotMemorizedResult",
    "expires_after",
    "register_store_backend",
    "StoreBackendBase",
    # parallel loops (joblet-parallel)
    "Parallel",
    "delayed",
    "cpu_count",
    "effective_n_jobs",
    "get_active_backend",
    "wrap_non_picklable_objects",
    "shared_empty",
    "shared_array",
    "parallel_config",
    "parallel_backend",
    "ParallelBackendBase",
    "AutoBatchingMixin",
    "register_parallel_backend",
    "Logger",
    "PrintTime",
    # hashing (joblet-hash)
    "hash",
    "register_fingerprint",
    # persistence (joblet-persist)
    "dump",
    "load",
    "dumps",
    "loads",
    "register_compressor",
    "CompressorWrapper",
    # errors and warnings users catch
    "UnhashableObjectError",
    "TerminatedWorkerError",
    "TaskPicklingError",
    "RemoteTraceback",
    "UnknownBackendError",
    "FormatError",
    "TruncatedFileError",
    "UnsupportedVersionError",
    "UnsafeGlobalError",
    "CacheWarning",
    "JobletCollisionWarning",
    "__version__",
]
