"""Free-threaded interpreters (3.13t, 3.14t with the GIL off): threads by default.

No free-threaded build can be installed on the development machine, so the
rule is tested by making ``sys._is_gil_enabled`` say False; the test that
needs a real one skips with that reason.
"""

from __future__ import annotations

import sys

import pytest

from joblet_parallel import Parallel, delayed, parallel_config
from joblet_parallel._backends import ProcessBackend, ThreadingBackend

REAL_FREE_THREADING = (
    getattr(sys, "_is_gil_enabled", None) is not None and not sys._is_gil_enabled()
)


@pytest.fixture
def without_gil(monkeypatch):
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)


def test_the_default_backend_is_threads_without_the_gil(without_gil, capsys):
    call = Parallel(n_jobs=2, verbose=1)
    assert isinstance(call._backend, ThreadingBackend)
    assert call(delayed(abs)(-i) for i in range(3)) == [0, 1, 2]
    assert "runs without the GIL" in capsys.readouterr().err


def test_a_chosen_backend_stays_chosen_without_the_gil(without_gil):
    assert isinstance(Parallel(n_jobs=2, backend="loky")._backend, ProcessBackend)
    with parallel_config(backend="loky"):
        assert isinstance(Parallel(n_jobs=2)._backend, ProcessBackend)


def test_with_the_gil_the_default_is_processes(monkeypatch, capsys):
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: True, raising=False)
    call = Parallel(n_jobs=2, verbose=1)
    assert isinstance(call._backend, ProcessBackend)
    call(delayed(abs)(-i) for i in range(2))
    assert "GIL" not in capsys.readouterr().err


@pytest.mark.skipif(
    not REAL_FREE_THREADING,
    reason="needs a free-threaded interpreter with the GIL off (3.13t, 3.14t); "
    "none can be installed on the development machine",
)
def test_threads_run_python_in_parallel_on_a_free_threaded_build():
    import time

    def spin(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    start = time.perf_counter()
    Parallel(n_jobs=2)(delayed(spin)(0.5) for _ in range(2))
    assert time.perf_counter() - start < 0.9
