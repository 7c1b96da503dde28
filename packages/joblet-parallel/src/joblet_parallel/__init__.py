"""joblet-parallel: embarrassingly parallel loops on threads and processes.

>>> from math import sqrt
>>> from joblet_parallel import Parallel, delayed
>>> Parallel(n_jobs=2, prefer="threads")(delayed(sqrt)(i**2) for i in range(5))
[0.0, 1.0, 2.0, 3.0, 4.0]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from joblet_hash.lazy import lazy_attributes

if TYPE_CHECKING:
    from . import logger as logger
    from ._backends import AutoBatchingMixin, ParallelBackendBase
    from ._batching import Batch
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
    from ._validation import check_effective_n_jobs
    from .logger import Logger, PrintTime

# Public name -> module that defines it. Loaded on first use (PEP 562), so that a
# worker process, which imports a few of the package's modules, does not pay for
# all of them (and ``import joblet_parallel`` stays cheap).
_HOMES = {
    "AutoBatchingMixin": "._backends",
    "ParallelBackendBase": "._backends",
    "Batch": "._batching",
    "parallel_backend": "._config",
    "parallel_config": "._config",
    "cpu_count": "._cpu",
    "delayed": "._delayed",
    "RemoteError": "._errors",
    "RemoteTraceback": "._errors",
    "ResultPicklingError": "._errors",
    "TaskPicklingError": "._errors",
    "TaskTimeoutError": "._errors",
    "TerminatedWorkerError": "._errors",
    "UnknownBackendError": "._errors",
    "register_joblib_backend": "._joblib_adapter",
    "Parallel": "._parallel",
    "effective_n_jobs": "._parallel",
    "get_active_backend": "._parallel",
    "wrap_non_picklable_objects": "._pickling",
    "register_parallel_backend": "._registry",
    "shared_array": "._shared",
    "shared_empty": "._shared",
    "TempFolderFullError": "._tempfolders",
    "check_effective_n_jobs": "._validation",
    "Logger": ".logger",
    "PrintTime": ".logger",
}


_lazy_name = lazy_attributes(__name__, _HOMES)


def __getattr__(name: str) -> Any:
    if name == "logger":  # a submodule (joblib.logger's names), not a name in one
        return importlib.import_module(".logger", __name__)
    return _lazy_name(name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    "Batch",
    "check_effective_n_jobs",
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
