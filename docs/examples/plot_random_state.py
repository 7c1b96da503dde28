"""
Random state within ``joblet.Parallel``
=======================================

Randomness in parallel code needs care: with workers made by ``fork``, every
worker starts with a copy of the parent's random state and can draw the same
"random" numbers as its siblings. This example shows how each backend behaves,
and the pattern that makes a parallel computation both independent across
tasks and reproducible: pass each task its own seed.

It follows joblib's gallery example of the same name. joblet's process workers
(``'loky'`` and ``'multiprocessing'``) are never forked from the caller, so none
of the backends repeats vectors here; seeding each task is still what makes the
result reproducible.
"""

import numpy as np

from joblet import Parallel, delayed


def print_vector(vector, backend):
    """Helper function to print the generated vector with a given backend."""
    print(
        f"\nThe different generated vectors using the {backend} backend are:\n {np.array(vector)}"
    )


###############################################################################
# Sequential behavior
# -------------------
# ``stochastic_function`` generates five random integers. Called several times,
# it gives different vectors.


def stochastic_function(max_value):
    """Randomly generate integer up to a maximum value."""
    return np.random.randint(max_value, size=5)


###############################################################################
# A function given its own random state:


def stochastic_function_seeded(max_value, random_state):
    rng = np.random.RandomState(random_state)
    return rng.randint(max_value, size=5)


def main():
    n_vectors = 5
    random_vector = [stochastic_function(10) for _ in range(n_vectors)]
    print(
        f"\nThe different generated vectors in a sequential manner are:\n {np.array(random_vector)}"
    )

    ###########################################################################
    # Parallel behavior
    # -----------------
    # joblet provides ``'loky'`` (the default, joblet's own process pool; the
    # name is kept for joblib code), ``'multiprocessing'``, ``'threading'`` and
    # ``'sequential'``.

    for backend in ("loky", "threading", "multiprocessing"):
        random_vector = Parallel(n_jobs=2, backend=backend)(
            delayed(stochastic_function)(10) for _ in range(n_vectors)
        )
        print_vector(random_vector, backend)
        distinct = len({tuple(v) for v in random_vector})
        print(f"{distinct} distinct vectors out of {n_vectors}")

    ###########################################################################
    # ``stochastic_function_seeded`` takes a random seed. With ``None``, each
    # call seeds itself from the operating system, so the vectors all differ
    # whatever the backend:

    backend = "multiprocessing"
    random_vector = Parallel(n_jobs=2, backend=backend)(
        delayed(stochastic_function_seeded)(10, None) for _ in range(n_vectors)
    )
    print_vector(random_vector, backend)

    ###########################################################################
    # Fixing the random state to obtain deterministic results
    # --------------------------------------------------------
    # Passing known seeds replicates the same vectors from one run to the next,
    # whatever the number of workers or the order in which tasks finish.

    random_state = np.random.RandomState(0).randint(
        np.iinfo(np.int32).max, size=n_vectors
    )

    first = Parallel(n_jobs=2, backend=backend)(
        delayed(stochastic_function_seeded)(10, rng) for rng in random_state
    )
    print_vector(first, backend)

    second = Parallel(n_jobs=2, backend=backend)(
        delayed(stochastic_function_seeded)(10, rng) for rng in random_state
    )
    print_vector(second, backend)
    print("\nSame vectors both times:", np.array_equal(first, second))

    ###########################################################################
    # With numpy's newer generators, ``SeedSequence.spawn`` gives each task an
    # independent stream from one root seed:

    children = np.random.SeedSequence(42).spawn(n_vectors)
    vectors = Parallel(n_jobs=2)(
        delayed(lambda seed: np.random.default_rng(seed).integers(10, size=5))(seed)
        for seed in children
    )
    print_vector(vectors, "loky (SeedSequence)")


###############################################################################
# The ``__main__`` guard keeps the ``'multiprocessing'`` backend's workers,
# which start by importing this script, from running the example again.

if __name__ == "__main__":
    main()
