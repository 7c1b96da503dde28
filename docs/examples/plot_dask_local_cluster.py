"""
Using dask distributed for single-machine parallel computing
============================================================

This example runs a ``joblet.Parallel`` loop on a ``dask.distributed`` cluster
started on the local computer. That is useful to prototype a computation that
will later run on a real cluster: the only change is the address of the
scheduler. It also lets dask orchestrate both dask code and joblet code (for
instance dask for preprocessing and a library using ``Parallel`` for the
modelling) on one set of workers.

It follows joblib's gallery example of the same name. The ``'dask'`` backend
comes from the ``joblet-dask`` distribution (``pip install joblet-dask``), which
registers it with ``Parallel`` when installed. Here the cluster has two worker
processes of one thread each, and is closed at the end; its workers' scratch
space is a temporary folder removed with it.
"""

import shutil
import tempfile
import time

import dask
from dask.distributed import Client, LocalCluster

from joblet import Parallel, delayed, parallel_config


def long_running_function(i):
    time.sleep(0.1)
    return i


def main():
    ###########################################################################
    # Set up the distributed client
    # -----------------------------
    # With a remote cluster running dask:
    # ``client = Client('tcp://scheduler-address:8786')``. To have dask set
    # itself up on this computer:

    start = time.time()
    scratch = tempfile.mkdtemp(prefix="joblet-example-dask-")
    previous_scratch = dask.config.get("temporary-directory", None)
    dask.config.set(temporary_directory=scratch)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    client = Client(cluster)
    print(f"Local cluster with 2 workers started in {time.time() - start:.1f} s")

    ###########################################################################
    # Run the parallel computation with dask.distributed
    # -------------------------------------------------
    # The verbose messages show that the backend is the dask.distributed one.
    # ``parallel_backend('dask')`` works too.

    start = time.time()
    with parallel_config("dask"):
        results = Parallel(verbose=100)(
            delayed(long_running_function)(i) for i in range(10)
        )
    print(results)
    print(f"10 tasks of 0.1 s on 2 workers took {time.time() - start:.2f} s")

    ###########################################################################
    # Progress can be followed on dask's web dashboard when it is enabled (it
    # is disabled here). Close the client and the cluster:

    client.close()
    cluster.close()
    shutil.rmtree(scratch)
    dask.config.set(temporary_directory=previous_scratch)


###############################################################################
# The ``__main__`` guard keeps the worker processes, which may import this
# script when they start, from starting clusters of their own.

if __name__ == "__main__":
    main()
