"""Batches: every shape of task survives the compact forms they are read into
and sent in, and a call's tasks are freed when it ends."""

from __future__ import annotations

import gc
import pickle
import sys
import weakref

import cloudpickle
import pytest

from joblet_parallel import Parallel, delayed
from joblet_parallel._batching import BatchedCalls, take_tasks

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)


def add(a, b=0, *, c=0):
    return a + b + c


def neg(a):
    return -a


# Each list mixes the forms a batch may take: one function with one positional
# argument per task (the compact form), several arguments, keywords, a change
# of function in the middle of a batch, and a task of the compact form after
# the batch left it.
SHAPES = {
    "one argument": [delayed(neg)(i) for i in range(10)],
    "two arguments": [delayed(add)(i, i) for i in range(10)],
    "keywords": [delayed(add)(i, c=i) for i in range(10)],
    "mixed functions": [delayed(neg)(1), delayed(add)(2, 3), delayed(neg)(4)] * 4,
    "form changes in the batch": [delayed(neg)(i) for i in range(5)]
    + [delayed(add)(1, b=2)]
    + [delayed(neg)(i) for i in range(5)],
    "empty arguments": [delayed(add)(i) for i in range(3)] + [delayed(int)()],
}


def _named(tasks):
    return [(func.__name__, args, kwargs) for func, args, kwargs in tasks]


@pytest.mark.parametrize("shape", SHAPES)
def test_take_tasks_keeps_every_task(shape):
    tasks = SHAPES[shape]
    calls = take_tasks(iter(tasks), len(tasks))
    assert len(calls) == len(tasks)
    assert calls.items == tasks
    expected = [func(*args, **kwargs) for func, args, kwargs in tasks]
    assert calls() == expected
    travelled = pickle.loads(cloudpickle.dumps(calls))
    assert travelled() == expected
    assert _named(travelled.items) == _named(tasks)  # functions travel by value


@pytest.mark.parametrize("piece", [1, 3, 100])
@pytest.mark.parametrize("shape", SHAPES)
def test_split_batches_keep_order(shape, piece):
    tasks = SHAPES[shape]
    parts = take_tasks(iter(tasks), len(tasks)).split(piece)
    assert [task for part in parts for task in part.items] == tasks
    assert all(len(part) <= piece for part in parts)


def test_take_tasks_reads_at_most_size_tasks():
    iterator = iter([delayed(neg)(i) for i in range(7)])
    assert len(take_tasks(iterator, 5)) == 5
    assert take_tasks(iterator, 5).items == [delayed(neg)(5), delayed(neg)(6)]
    assert take_tasks(iterator, 5) is None


@pytest.mark.parametrize("batch_size", [1, 4, "auto"])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_runs_on_process_workers(shape, batch_size):
    tasks = SHAPES[shape]
    expected = [func(*args, **kwargs) for func, args, kwargs in tasks]
    assert Parallel(n_jobs=2, batch_size=batch_size)(iter(tasks)) == expected


def test_describe_names_the_first_task_of_a_compact_batch():
    calls = take_tasks(iter([delayed(neg)(i) for i in range(3)]), 3)
    assert calls.describe() == "neg(0) (in a batch of 3 tasks)"
    assert calls.describe_task(2) == "neg(2)"


def test_describe_names_a_partial_by_the_function_it_wraps():
    # the name messages give a callable has one home (joblet_hash.code.display_name)
    import functools

    calls = take_tasks(iter([delayed(functools.partial(neg, 1))()]), 1)
    assert calls.describe() == "neg()"


class Argument:
    """A task argument whose lifetime the tests follow."""

    def __init__(self, value: int) -> None:
        self.value = value


def value_of(argument: Argument) -> int:
    return argument.value


@pytest.mark.parametrize("return_as", ["list", "generator"])
def test_task_arguments_are_freed_when_the_call_ends_without_a_collection(
    return_as,
):
    # A reference cycle between a call's batches and the executor's jobs kept
    # every argument of the call alive until the next garbage collection.
    arguments = [Argument(i) for i in range(50)]
    refs = [weakref.ref(argument) for argument in arguments]
    gc.collect()
    gc.disable()
    try:
        out = Parallel(n_jobs=2, return_as=return_as)(
            delayed(value_of)(argument) for argument in arguments
        )
        assert list(out) == list(range(50))
        del arguments, out
        alive = [ref for ref in refs if ref() is not None]
    finally:
        gc.enable()
    assert not alive, f"{len(alive)} task arguments outlived the call"


def test_a_malformed_task_fails_the_call_with_the_unpacking_error():
    with pytest.raises((TypeError, ValueError)):
        Parallel(n_jobs=2)([delayed(neg)(1), (neg, (2,))])


def test_batched_calls_from_a_list_of_tasks_still_work():
    # The constructor other backends (and joblib-era code) use.
    calls = BatchedCalls([(neg, (1,), {}), (add, (1, 2), {"c": 3})])
    assert calls() == [-1, 6]
    assert pickle.loads(cloudpickle.dumps(calls))() == [-1, 6]


def test_both_forms_of_a_batch_are_what_backends_receive():
    from joblet_parallel import Batch

    column = take_tasks(iter([delayed(neg)(i) for i in range(3)]), 3)
    listed = BatchedCalls([(neg, (1,), {}), (add, (1, 2), {"c": 3})])
    for batch in (column, listed):
        assert isinstance(batch, Batch)
    assert [args for _, args, _ in column.items] == [(0,), (1,), (2,)]
    assert not isinstance(lambda: [], Batch)


@pytest.mark.parametrize("backend", ["loky", "threading", "sequential"])
@pytest.mark.parametrize("return_as", ["list", "generator"])
@pytest.mark.parametrize("verbose", [0, 10])
def test_one_job_reads_the_input_a_batch_at_a_time(backend, return_as, verbose):
    """With n_jobs=1 the tasks run in the caller, each batch of ``batch_size``
    read from the input before its first task runs, as joblib does."""
    events = []

    def produce():
        for i in range(6):
            events.append(f"read {i}")
            yield delayed(events.append)(f"ran {i}")

    output = Parallel(
        n_jobs=1,
        backend=backend,
        batch_size=4,
        return_as=return_as,
        verbose=verbose,
    )(produce())
    list(output)
    reads = [f"read {i}" for i in range(6)]
    runs = [f"ran {i}" for i in range(6)]
    assert events == reads[:4] + runs[:4] + reads[4:] + runs[4:]
