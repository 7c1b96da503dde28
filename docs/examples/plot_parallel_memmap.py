"""
NumPy memmap in ``joblet.Parallel``
===================================

This example shows what memory maps (``numpy.memmap``) bring to
``joblet.Parallel``. First, large array arguments are shared with the worker
processes as memory maps, automatically or by dumping the array ahead of the
call. Then, workers write their results straight into a shared output array
opened in write mode.

It follows joblib's gallery example of the same name, with ``joblet`` in place
of ``joblib``; its files go to a temporary folder that is removed at the end.
"""

import os
import shutil
import tempfile
import time

import numpy as np

from joblet import Parallel, delayed, dump, load

###############################################################################
# Speed up processing of a large data array
# -----------------------------------------
# We create a large data array (80 MB) for which the average is computed for
# several slices.

data = np.random.random((int(1e7),))
window_size = int(5e5)
slices = [
    slice(start, start + window_size)
    for start in range(0, data.size - window_size, int(1e5))
]

###############################################################################
# ``slow_mean`` sleeps to simulate a more expensive computation, for which
# parallel computing pays off. For very fast operations the overhead of
# parallelism (worker start, communication) may exceed the gain.


def slow_mean(data, sl):
    """Simulate a time consuming processing."""
    time.sleep(0.01)
    return data[sl].mean()


def slow_mean_write_output(data, sl, output, idx):
    """Simulate a time consuming processing, writing into ``output``."""
    time.sleep(0.005)
    res_ = data[sl].mean()
    if idx % 30 == 0:
        print(f"[Worker {os.getpid()}] Mean for slice {idx} is {res_:f}", flush=True)
    output[idx] = res_


def main():
    global data

    ###########################################################################
    # First, the sequential computation:

    tic = time.time()
    results = [slow_mean(data, sl) for sl in slices]
    toc = time.time()
    print(f"\nElapsed time computing the average of couple of slices {toc - tic:.2f} s")

    ###########################################################################
    # ``Parallel`` computes the averages of all slices on 2 workers. ``data`` is
    # larger than ``max_nbytes`` (1 MB by default), so it is dumped once and
    # the workers receive a memory map of it instead of a copy per task.

    tic = time.time()
    results = Parallel(n_jobs=2)(delayed(slow_mean)(data, sl) for sl in slices)
    toc = time.time()
    print(f"\nElapsed time computing the average of couple of slices {toc - tic:.2f} s")

    ###########################################################################
    # The dump can also be done once, ahead of the call, which removes it from
    # every call that uses the array: dump it and load it back as a memmap.

    folder = tempfile.mkdtemp(prefix="joblet-example-")
    data_filename_memmap = os.path.join(folder, "data_memmap")
    dump(data, data_filename_memmap)
    data = load(data_filename_memmap, mmap_mode="r")

    tic = time.time()
    results = Parallel(n_jobs=2)(delayed(slow_mean)(data, sl) for sl in slices)
    toc = time.time()
    print(
        f"\nElapsed time computing the average of couple of slices {toc - tic:.2f} s\n"
    )

    ###########################################################################
    # Writable memmap for shared memory ``Parallel``
    # ----------------------------------------------
    # ``slow_mean_write_output`` writes each mean straight into an output
    # array. Pre-allocate it as a writable memory map: the workers receive it
    # opened ``'r+'`` and write into the same file.

    output_filename_memmap = os.path.join(folder, "output_memmap")
    output = np.memmap(
        output_filename_memmap, dtype=data.dtype, shape=len(slices), mode="w+"
    )

    Parallel(n_jobs=2)(
        delayed(slow_mean_write_output)(data, sl, output, idx)
        for idx, sl in enumerate(slices)
    )

    ###########################################################################
    # Compare the results from the output buffer with the expected results:

    print(
        f"\nExpected means computed in the parent process:\n {np.array(results)[:6]} ..."
    )
    print(f"\nActual means computed by the worker processes:\n {output[:6]} ...")
    print("\nAll equal:", np.allclose(output, results))

    ###########################################################################
    # Clean up the memmaps
    # --------------------
    # Close them (``del``) and remove the folder.

    del output, data
    shutil.rmtree(folder)


###############################################################################
# The ``__main__`` guard is good practice with process pools; joblet's workers
# do not need it, ``'multiprocessing'`` ones do.

if __name__ == "__main__":
    main()
