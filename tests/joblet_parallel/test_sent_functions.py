"""A call's function is pickled once in the parent and unpickled once per worker."""

from __future__ import annotations

import os
import sys
import threading
from collections import defaultdict

import cloudpickle
import pytest

from joblet_parallel import Parallel, delayed
from joblet_parallel._sent_functions import HELD_FUNCTIONS, HeldFunctions

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)

PICKLED: list[int] = []  # in the parent: one entry each time a Model is pickled


class Model:
    """A callable with state: counts the tasks its copy has run."""

    def __init__(self, weight: int, marker: str = "") -> None:
        self.weight = weight
        self.marker = marker  # a task "die" kills its worker once, if set
        self.calls = 0

    def __reduce__(self):
        PICKLED.append(1)
        return Model, (self.weight, self.marker)

    def predict(self, x):
        self.calls += 1
        if x == "die" and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(5)
        return os.getpid(), id(self), self.calls, self.weight


class Unloadable:
    """Pickles in the parent, fails to unpickle in a worker."""

    def __reduce__(self):
        return _refuse, ()

    def __call__(self, x):
        return x


def _refuse():
    raise LookupError("cannot be rebuilt here")


def copies_per_worker(results):
    copies = defaultdict(set)
    for pid, copy, _, _ in results:
        copies[pid].add(copy)
    return copies


def test_the_function_is_pickled_once_per_call_and_unpickled_once_per_worker():
    model = Model(3)
    PICKLED.clear()
    with Parallel(n_jobs=2, batch_size=1) as parallel:
        first = parallel(delayed(model.predict)(i) for i in range(24))
        assert len(PICKLED) == 1  # not once per batch (24)
        # each worker made one copy, which ran all its tasks in turn
        for pid, copies in copies_per_worker(first).items():
            assert len(copies) == 1
            counts = sorted(calls for p, _, calls, _ in first if p == pid)
            assert counts == list(range(1, len(counts) + 1))
        second = parallel(delayed(model.predict)(i) for i in range(24))
    assert len(PICKLED) == 2  # every call sends its function afresh
    assert all(weight == 3 for *_, weight in second)
    fresh = {
        pid: min(c for p, _, c, _ in second if p == pid) for pid, _, _, _ in second
    }
    assert set(fresh.values()) == {1}
    for pid, copies in copies_per_worker(second).items():
        assert len(copies) == 1
        assert not copies & copies_per_worker(first)[pid]


def test_a_changed_function_is_sent_again_in_the_next_call():
    model = Model(1)
    with Parallel(n_jobs=2) as parallel:
        before = parallel(delayed(model.predict)(i) for i in range(8))
        model.weight = 2
        after = parallel(delayed(model.predict)(i) for i in range(8))
    assert {weight for *_, weight in before} == {1}
    assert {weight for *_, weight in after} == {2}


def test_a_worker_that_died_is_replaced_and_given_the_function(tmp_path):
    model = Model(4, marker=str(tmp_path / "died"))
    tasks = [0, 1, 2, "die", 4, 5, 6, 7, 8, 9]
    out = Parallel(n_jobs=2, batch_size=1, retries=1)(
        delayed(model.predict)(x) for x in tasks
    )
    assert [weight for *_, weight in out] == [4] * len(tasks)
    assert (tmp_path / "died").exists()


def test_a_function_that_cannot_be_unpickled_fails_every_task_the_same_way():
    out = Parallel(n_jobs=2, batch_size=1, return_exceptions=True)(
        delayed(Unloadable())(i) for i in range(6)
    )
    assert len(out) == 6
    for error in out:
        assert isinstance(error, LookupError), error
        assert "cannot be rebuilt here" in str(error)


def test_calls_at_once_on_the_shared_pool_each_get_their_function():
    # interleaved calls from threads: the workers hold at most a few functions
    # and drop other calls' ones, and the parent follows the same rule
    results: dict[int, list] = {}

    def call(weight):
        model = Model(weight)
        results[weight] = Parallel(n_jobs=2, batch_size=1)(
            delayed(model.predict)(i) for i in range(30)
        )

    threads = [threading.Thread(target=call, args=(w,)) for w in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(5))
    for weight, out in results.items():
        assert [w for *_, w in out] == [weight] * 30


def test_held_functions_keep_one_call_and_a_bounded_number():
    held = HeldFunctions()
    held.hold("p-1:0", "f")
    assert held.seen("p-1:0")
    assert not held.seen("p-1:1")
    for index in range(1, HELD_FUNCTIONS + 2):
        held.hold(f"p-1:{index}", index)
    assert len(held.held) == HELD_FUNCTIONS
    assert not held.seen("p-1:0")  # the oldest went
    held.hold("p-2:0", "g")  # a new call: the previous call's functions go
    assert list(held.held) == ["p-2:0"]
