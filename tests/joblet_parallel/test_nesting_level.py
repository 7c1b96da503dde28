"""A backend's nesting level, set when it is made, as joblib 1.6 sets it: 0 at
the top level, the level of the backend in effect inside a worker (1 in the
task of a top-level call); deeper calls then run sequentially."""

from __future__ import annotations

import pytest

from joblet_parallel import (
    Parallel,
    delayed,
    get_active_backend,
    parallel_backend,
    parallel_config,
)
from joblet_parallel._backends import ThreadingBackend

BACKENDS = ["loky", "multiprocessing", "threading", "sequential"]


def configured_level(backend: str) -> int | None:
    with parallel_config(backend) as config:
        level: int | None = config["backend"].nesting_level
        return level


def level_from_parallel_backend(backend: str) -> int | None:
    with parallel_backend(backend) as (instance, _):
        level: int | None = instance.nesting_level
        return level


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_configured_backend_is_at_level_0_at_the_top(backend):
    assert configured_level(backend) == 0
    assert level_from_parallel_backend(backend) == 0


@pytest.mark.parametrize("outer", ["loky", "threading"])
def test_a_backend_configured_in_a_task_is_at_level_1(outer):
    levels = Parallel(n_jobs=2, backend=outer)(
        delayed(configured_level)("threading") for _ in range(4)
    )
    assert levels == [1] * 4


def test_an_instance_keeps_a_level_it_was_given():
    backend = ThreadingBackend(nesting_level=3)
    with parallel_config(backend) as config:
        assert config["backend"].nesting_level == 3


def test_a_named_backend_of_parallel_takes_the_active_level():
    assert Parallel(backend="threading")._backend.nesting_level == 0
    with parallel_config("threading", n_jobs=2):
        levels = Parallel()(
            delayed(lambda: Parallel(backend="loky")._backend.nesting_level)()
            for _ in range(2)
        )
    assert levels == [1, 1]


def inner_backend_type() -> str:
    backend, _ = get_active_backend()
    return type(backend).__name__


def innermost_backend_types() -> list[str]:
    return Parallel(n_jobs=2, backend="threading")(
        delayed(inner_backend_type)() for _ in range(2)
    )


def test_a_third_level_runs_sequentially():
    """Threads in threads (level 1) are joblib's rule; a call below those
    (level 2) runs in its caller, as docs/parallel.rst says."""
    outer = Parallel(n_jobs=2, backend="threading")(
        delayed(innermost_backend_types)() for _ in range(2)
    )
    assert outer == [["SequentialBackend"] * 2] * 2
