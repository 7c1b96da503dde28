"""joblet-dask: the ``dask`` backend of joblet-parallel on dask.distributed.

The backend is being built; see the package README.
"""

__version__ = "0.1.0"

__all__: list[str] = ["__version__"]
