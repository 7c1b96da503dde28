"""joblet-parallel: embarrassingly parallel loops on threads and processes.

>>> from math import sqrt
>>> from joblet_parallel import Parallel, delayed
>>> Parallel(n_jobs=2, prefer="threads")(delayed(sqrt)(i**2) for i in range(5))
[0.0, 1.0, 2.0, 3.0, 4.0]
"""

from . import logger as logger
from ._backends import AutoBatchingMixin, ParallelBackendBase
from ._config import parallel_backend, parallel_config
from ._cpu import cpu_count
from ._delayed import delayed
from ._errors import (
    RemoteError,
    RemoteTraceback,
    ResultPicklingError,
    TaskPicklingError,
    TaskTimeoutError,
    TerminatedWorkerError,
    UnknownBackendError,
)
from ._joblib_adapter import register_joblib_backend
from ._parallel import Parallel, effective_n_jobs, get_active_backend
from ._pickling import wrap_non_picklable_objects
from ._registry import register_parallel_backend
from ._shared import shared_array, shared_empty
from ._tempfolders import TempFolderFullError
from .logger import Logger, PrintTime

__version__ = "0.1.0"

__all__ = [
    # parallel loops
    "Parallel",
    "delayed",
    # configuration
    "parallel_config",
    "parallel_backend",
    "effective_n_jobs",
    "get_active_backend",
    # joblib's logger module and names
    "Logger",
    "PrintTime",
    "cpu_count",
    # serialization and shared data
    "wrap_non_picklable_objects",
    "shared_empty",
    "shared_array",
    # custom backends
    "register_parallel_backend",
    "register_joblib_backend",
    "ParallelBackendBase",
    "AutoBatchingMixin",
    # errors
    "TerminatedWorkerError",
    "TaskPicklingError",
    "RemoteTraceback",
    "RemoteError",
    "ResultPicklingError",
    "TaskTimeoutError",
    "UnknownBackendError",
    "TempFolderFullError",
    "__version__",
]
