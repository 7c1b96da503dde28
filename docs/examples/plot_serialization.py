"""
Serialization of un-picklable objects
=====================================

Process workers receive each task as bytes: the function and its arguments are
pickled in the main process and unpickled in a worker. The standard ``pickle``
cannot serialize functions defined interactively or in ``__main__`` (as in this
script), lambdas or closures. ``joblet.Parallel`` pickles tasks with a
``cloudpickle`` pickler, which serializes those by value, and everything else
as plain pickle protocol 5 (large arrays out of band, without a copy).

This example shows that such functions just work, what it costs on a large
argument, and ``wrap_non_picklable_objects``, which makes an object picklable
by the standard ``pickle`` for code that must use it (a
``multiprocessing.Pool``, a queue, a cache).

It follows joblib's gallery example of the same name; joblib's
``LOKY_PICKLER`` switch has no equivalent because the task pickler already
uses the fast C pickler for everything but the objects that need cloudpickle.
"""

import pickle
import time

from joblet import Parallel, delayed, wrap_non_picklable_objects

###############################################################################
# ``pickle`` stores a function by reference, as its module and name: a worker
# process would look ``func_async`` up in its own ``__main__``, where it does
# not exist, and a lambda has no name to look up at all.


def func_async(i, *args):
    return 2 * i


square = lambda x: x**2  # noqa: E731 (a lambda on purpose)


###############################################################################
# ``wrap_non_picklable_objects`` can be used as a decorator. The wrapped
# function pickles with the standard ``pickle`` (its content travels by value,
# through cloudpickle) and still calls like the original.


@wrap_non_picklable_objects
def func_async_wrapped(i, *args):
    return 2 * i


###############################################################################
# It wraps classes too: instances of the wrapped class pickle with ``pickle``.


@wrap_non_picklable_objects
class Accumulator:
    def __init__(self, start):
        self.total = start

    def add(self, value):
        self.total += value
        return self.total


def main():
    ###########################################################################
    # ``pickle`` fails on the lambda; the wrapped objects pickle:

    try:
        pickle.dumps(square)
    except pickle.PicklingError as error:
        print("pickle.dumps(square) failed:", error)
    print(
        "wrapped, it pickles:",
        pickle.loads(pickle.dumps(wrap_non_picklable_objects(square)))(3),
    )
    restored = pickle.loads(pickle.dumps(func_async_wrapped))
    print("the wrapped function survives pickle.dumps/loads:", restored(21))
    accumulator = pickle.loads(pickle.dumps(Accumulator(40)))
    print(
        "an instance of the wrapped class, after a pickle round trip:",
        accumulator.add(2),
    )

    ###########################################################################
    # ``Parallel`` needs neither: the task pickler sends the function by value.

    print(Parallel(n_jobs=2)(delayed(func_async)(i) for i in range(5)))
    print(Parallel(n_jobs=2)(delayed(square)(i) for i in range(5)))

    ###########################################################################
    # Large Python objects (a list of a million ints, a dict of 100,000
    # entries) pickle with the C pickler, as with the standard ``pickle``.
    # Compare the time of one task carrying them with the time ``pickle.dumps``
    # alone takes.

    large_list = list(range(1_000_000))
    large_dict = {f"key-{i}": i for i in range(100_000)}
    start = time.time()
    pickle.dumps((large_list, large_dict), protocol=5)
    print(f"\npickle.dumps of the large arguments: {time.time() - start:.3f} s")

    with Parallel(n_jobs=2) as parallel:
        parallel(delayed(func_async)(0) for _ in range(2))  # start the workers
        start = time.time()
        parallel(delayed(func_async)(21, large_list, large_dict) for _ in range(1))
        print(f"one task carrying them to a worker: {time.time() - start:.3f} s")
        start = time.time()
        parallel(
            delayed(func_async_wrapped)(21, large_list, large_dict) for _ in range(1)
        )
        print(f"the same with the wrapped function: {time.time() - start:.3f} s")

    ###########################################################################
    # The ``'multiprocessing'`` backend (kept for joblib code) works with the
    # same pickler, so interactively defined functions run there too.

    print(
        Parallel(n_jobs=2, backend="multiprocessing")(
            delayed(func_async)(i) for i in range(5)
        )
    )


###############################################################################
# The ``__main__`` guard keeps the ``'multiprocessing'`` backend's workers,
# which start by importing this script, from running the example again.

if __name__ == "__main__":
    main()
