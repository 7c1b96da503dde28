"""A pool worker's life: each move has one method, and refuses the others."""

from __future__ import annotations

import pytest

from joblet_parallel._executor._pool import WorkerState, _Worker

pytestmark = pytest.mark.timeout(30)


def worker_in(state: WorkerState) -> _Worker:
    worker = _Worker.__new__(_Worker)  # no process: the state alone
    worker.state = state
    return worker


def test_retire_moves_an_alive_worker_only():
    worker = worker_in(WorkerState.ALIVE)
    assert worker.retire() is True
    assert worker.state is WorkerState.RETIRING
    assert worker.retire() is False
    for state in (WorkerState.CLOSED, WorkerState.DEAD):
        other = worker_in(state)
        assert other.retire() is False
        assert other.state is state


@pytest.mark.parametrize("state", [WorkerState.ALIVE, WorkerState.RETIRING])
def test_close_moves_a_running_worker(state):
    worker = worker_in(state)
    assert worker.close() is True
    assert worker.state is WorkerState.CLOSED
    assert worker.close() is False


def test_a_dead_worker_is_not_closed_again():
    worker = worker_in(WorkerState.DEAD)
    assert worker.close() is False
    assert worker.state is WorkerState.DEAD


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (WorkerState.CLOSED, True),
        (WorkerState.ALIVE, False),
        (WorkerState.RETIRING, False),
    ],
)
def test_an_exit_is_expected_only_after_close(state, expected):
    worker = worker_in(state)
    assert worker.exited() is expected
    assert worker.state is WorkerState.DEAD
