"""
Checkpoint using ``joblet.Memory`` and ``joblet.Parallel``
==========================================================

This example caches intermediate results with ``Memory`` inside a parallel
loop run by ``Parallel``: the first round computes and stores them on two
workers, the second round reads them back from the cache, and a new processing
step reuses the same checkpoints.

It follows the joblib gallery example of the same name, with ``joblet`` in place
of ``joblib`` and half-second computations instead of two-second ones. The
cache lives in a temporary folder that is removed at the end.
"""

import shutil
import tempfile
import time

import numpy as np

from joblet import Memory, Parallel, delayed

###############################################################################
# Embed caching within parallel processing
# ----------------------------------------
# ``costly_compute`` emulates a time-consuming function.


def costly_compute(data, column):
    """Emulate a costly function by sleeping and returning a column."""
    time.sleep(0.5)
    return data[column]


def data_processing_mean(data, column):
    """Compute the mean of a column."""
    return costly_compute(data, column).mean()


###############################################################################
# Create some data. The random seed is fixed to generate the same data in
# every Python session.

rng = np.random.RandomState(42)
data = rng.randn(int(1e4), 4)

###############################################################################
# First, the processing without caching or parallel processing.

start = time.time()
results = [data_processing_mean(data, col) for col in range(data.shape[1])]
stop = time.time()

print("\nSequential processing")
print(f"Elapsed time for the entire processing: {stop - start:.2f} s")

###############################################################################
# ``costly_compute`` is an expensive intermediate step of
# ``data_processing_mean``, so we store its results with ``Memory``.

location = tempfile.mkdtemp(prefix="joblet-example-")
memory = Memory(location, verbose=0)
costly_compute_cached = memory.cache(costly_compute)


def data_processing_mean_using_cache(data, column):
    """Compute the mean of a column."""
    return costly_compute_cached(data, column).mean()


###############################################################################
# Then we run the same processing in parallel, caching the intermediate
# results. The cached function travels to the worker processes with the
# tasks: ``Memory`` objects and cached functions pickle.

start = time.time()
results = Parallel(n_jobs=2)(
    delayed(data_processing_mean_using_cache)(data, col) for col in range(data.shape[1])
)
stop = time.time()

print("\nFirst round - caching the data")
print(f"Elapsed time for the entire processing: {stop - start:.2f} s")

###############################################################################
# With two workers the processing is about twice as fast as the sequential
# one. Running it again loads the intermediate results from the cache
# instead of computing them.

start = time.time()
results = Parallel(n_jobs=2)(
    delayed(data_processing_mean_using_cache)(data, col) for col in range(data.shape[1])
)
stop = time.time()

print("\nSecond round - reloading from the cache")
print(f"Elapsed time for the entire processing: {stop - start:.2f} s")

###############################################################################
# Reuse intermediate checkpoints
# ------------------------------
# The cached results of ``costly_compute_cached`` serve any processing that
# calls it with the same arguments: here the maximum instead of the mean.


def data_processing_max_using_cache(data, column):
    """Compute the max of a column."""
    return costly_compute_cached(data, column).max()


start = time.time()
results = Parallel(n_jobs=2)(
    delayed(data_processing_max_using_cache)(data, col) for col in range(data.shape[1])
)
stop = time.time()

print("\nReusing intermediate checkpoints")
print(f"Elapsed time for the entire processing: {stop - start:.2f} s")

###############################################################################
# The time is only that of ``max``: ``costly_compute_cached`` reloads its
# results from the cache.
#
# Clean up the cache folder
# -------------------------

memory.clear(warn=False)
shutil.rmtree(location)
