"""A cached function given functions as arguments: each different function gets
its own entry (joblib refuses lambdas; hashing by name served the first result)."""

from __future__ import annotations

import functools
import pickle

import pytest

import joblet


def apply(func, x):
    return func(x)


def make_adder(k):
    def add(v):
        return v + k

    return add


@pytest.fixture
def cached_apply(tmp_path):
    calls = []

    def apply_counted(func, x):
        calls.append(x)
        return func(x)

    memory = joblet.Memory(tmp_path, verbose=0)
    return memory.cache(apply_counted), calls


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (lambda v: v + 1, lambda v: v * 2, (11, 20)),
        (make_adder(1), make_adder(2), (11, 12)),
        (
            functools.partial(make_adder(1)),
            functools.partial(make_adder(5)),
            (11, 15),
        ),
    ],
    ids=["lambdas", "closures", "partials"],
)
def test_different_function_arguments_never_share_an_entry(
    cached_apply, first, second, expected
):
    cached, calls = cached_apply
    assert (cached(first, 10), cached(second, 10)) == expected
    assert len(calls) == 2
    # The same function again is a hit.
    assert cached(first, 10) == expected[0]
    assert len(calls) == 2


def test_joblib_memory_refuses_lambda_arguments(tmp_path):
    joblib = pytest.importorskip("joblib")
    cached = joblib.Memory(tmp_path, verbose=0).cache(apply)
    with pytest.raises(pickle.PicklingError):
        cached(lambda v: v + 1, 10)
