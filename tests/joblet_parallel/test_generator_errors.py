"""A generator call always returns its generator; a task's error is raised in
its place, after the results of the tasks before it (as joblib 1.6)."""

from __future__ import annotations

import time

import pytest

from joblet_parallel import Parallel, delayed

pytestmark = pytest.mark.timeout(120)


def fail_at_one(i: int) -> int:
    if i == 1:
        raise ValueError("task 1 failed")
    if i == 0:
        time.sleep(0.05)  # task 1 fails before task 0 ends
    return i


@pytest.mark.parametrize("backend", ["threading", "loky"])
@pytest.mark.parametrize("return_as", ["generator", "generator_unordered"])
def test_the_call_returns_and_yields_the_results_before_the_error(backend, return_as):
    for _ in range(5):
        output = Parallel(n_jobs=2, backend=backend, return_as=return_as, batch_size=1)(
            delayed(fail_at_one)(i) for i in range(6)
        )
        assert next(output) == 0
        with pytest.raises(ValueError, match="task 1 failed"):
            next(output)


def test_an_error_of_a_sequential_generator_is_raised_when_reached():
    output = Parallel(n_jobs=1, return_as="generator")(
        delayed(fail_at_one)(i) for i in (1, 0)
    )
    with pytest.raises(ValueError, match="task 1 failed"):
        next(output)
