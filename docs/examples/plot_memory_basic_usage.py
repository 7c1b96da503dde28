"""
How to use ``joblet.Memory``
============================

This example shows ``joblet.Memory`` caching the results of a function, and
of the costly part of a method, so that a second call with the same data reads
the result back from disk instead of computing it again.

It follows the joblib gallery example of the same name, with ``joblet`` in place
of ``joblib`` and a one-second computation instead of five. The cache lives in a
temporary folder that is removed at the end.
"""

import shutil
import tempfile
import time

import numpy as np

from joblet import Memory

###############################################################################
# Without ``Memory``
# ------------------
# ``costly_compute`` emulates a computationally expensive process which later
# benefits from caching.


def costly_compute(data, column_index=0):
    """Simulate an expensive computation"""
    time.sleep(1)
    return data[column_index]


###############################################################################
# Be sure to set the random seed to generate deterministic data: if the data
# changed from one run to the next, ``Memory`` could not reuse the cache.

rng = np.random.RandomState(42)
data = rng.randn(int(1e5), 10)
start = time.time()
data_trans = costly_compute(data)
end = time.time()

print(f"\nThe function took {end - start:.2f} s to compute.")
print(f"\nThe transformed data are:\n {data_trans}")

###############################################################################
# Caching the result of a function to avoid recomputing
# -----------------------------------------------------
# ``Memory`` stores the results of a function in a folder, keyed by the code of
# the function and the value of its arguments.

location = tempfile.mkdtemp(prefix="joblet-example-")
memory = Memory(location, verbose=0)


def costly_compute_cached(data, column_index=0):
    """Simulate an expensive computation"""
    time.sleep(1)
    return data[column_index]


costly_compute_cached = memory.cache(costly_compute_cached)
start = time.time()
data_trans = costly_compute_cached(data)
end = time.time()

print(f"\nThe function took {end - start:.2f} s to compute.")
print(f"\nThe transformed data are:\n {data_trans}")

###############################################################################
# At the first call the result is computed and stored, so the time is the
# computation plus writing the result to disk. At the second call it is read
# back from disk:

start = time.time()
data_trans = costly_compute_cached(data)
end = time.time()

print(f"\nThe function took {end - start:.2f} s to compute.")
print(f"\nThe transformed data are:\n {data_trans}")

###############################################################################
# Using ``Memory`` with a method
# ------------------------------
# ``Memory`` is designed for functions with no side effects. In a class, move
# the expensive part of a method to a function and cache that function.


def _costly_compute_cached(data, column):
    time.sleep(1)
    return data[column]


class Algorithm:
    """A class which is using the previous function."""

    def __init__(self, column=0):
        self.column = column

    def transform(self, data):
        costly_compute = memory.cache(_costly_compute_cached)
        return costly_compute(data, self.column)


transformer = Algorithm()
start = time.time()
data_trans = transformer.transform(data)
end = time.time()

print(f"\nThe function took {end - start:.2f} s to compute.")
print(f"\nThe transformed data are:\n {data_trans}")

###############################################################################

start = time.time()
data_trans = transformer.transform(data)
end = time.time()

print(f"\nThe function took {end - start:.2f} s to compute.")
print(f"\nThe transformed data are:\n {data_trans}")

###############################################################################
# As expected, the second call to ``transform`` loads the cached result.
#
# Clean up the cache directory
# ----------------------------

memory.clear(warn=False)
shutil.rmtree(location)
