"""joblet-dask: run joblet ``Parallel`` calls on a dask.distributed cluster.

Installing this distribution registers the ``'dask'`` backend with joblet-parallel
(through the ``joblet.parallel_backends`` entry point group)::

    from dask.distributed import Client
    from joblet_parallel import Parallel, delayed, parallel_config

    client = Client()
    with parallel_config("dask"):
        Parallel(verbose=10)(delayed(abs)(-i) for i in range(100))
"""

from ._backend import DaskDistributedBackend
from ._watch import ClusterLostError

__version__ = "0.1.0"

__all__ = [
    "ClusterLostError",
    "DaskDistributedBackend",
    "__version__",
]
