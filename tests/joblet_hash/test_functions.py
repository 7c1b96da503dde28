"""Functions given to hash() are keyed by what they compute, not by their name."""

from __future__ import annotations

import functools
import os
import pickle
import threading

import pytest

from joblet_hash import hash

OFFSET = 10


def module_level(v):
    return v + OFFSET


def make_adder(k):
    def add(v):
        return v + k

    return add


def make_recursive():
    def countdown(n):
        return countdown(n - 1) if n else 0

    return countdown


def make_with_default(k):
    def scaled(v, factor=k):
        return v * factor

    return scaled


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (lambda v: v + 1, lambda v: v * 2),
        (make_adder(1), make_adder(2)),
        (make_with_default(2), make_with_default(3)),
        (functools.partial(make_adder(1), 2), functools.partial(make_adder(1), 3)),
        (functools.partial(max, key=len), functools.partial(max, key=abs)),
        (lambda v: v + OFFSET, lambda v: v - OFFSET),
    ],
    ids=["lambdas", "closures", "defaults", "partials", "partial-kwargs", "globals"],
)
def test_functions_that_compute_different_things_hash_differently(first, second):
    assert hash(first) != hash(second)


@pytest.mark.parametrize(
    "build",
    [
        lambda: lambda v: v + 1,
        lambda: make_adder(5),
        make_recursive,
        lambda: functools.partial(make_adder(1), 2),
    ],
    ids=["lambda", "closure", "recursive-closure", "partial"],
)
def test_equal_functions_hash_equal_across_instances(build):
    assert hash(build()) == hash(build())


def test_a_global_read_by_a_local_function_is_part_of_its_hash(monkeypatch):
    def reads_offset(v):
        return v + OFFSET

    before = hash(reads_offset)
    monkeypatch.setitem(globals(), "OFFSET", 11)
    assert hash(reads_offset) != before


def test_module_level_functions_are_keyed_by_name_and_code():
    assert hash(module_level) == hash(module_level)
    assert hash(module_level) != hash(make_adder)
    assert hash(os.path.join) == hash(os.path.join)


def test_an_unhashable_global_does_not_make_the_function_unhashable(monkeypatch):
    monkeypatch.setitem(globals(), "GLOBAL_LOCK", threading.Lock())
    func = eval("lambda: GLOBAL_LOCK.locked()", globals())
    assert hash(func) == hash(eval("lambda: GLOBAL_LOCK.locked()", globals()))


def test_an_unhashable_closure_cell_is_named_in_the_error():
    from joblet_hash import UnhashableObjectError

    lock = threading.Lock()

    def uses_lock():
        with lock:
            return 1

    with pytest.raises(UnhashableObjectError, match=r"__closure__\[0\]"):
        hash(uses_lock)


def test_joblib_refuses_what_joblet_now_tells_apart():
    joblib = pytest.importorskip("joblib")
    with pytest.raises(pickle.PicklingError):
        joblib.hash(lambda v: v + 1)
