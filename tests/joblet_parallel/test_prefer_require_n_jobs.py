"""prefer='threads' and require='sharedmem' that replace a configured backend
by threads: the n_jobs of the configuration does not follow (as joblib 1.6)."""

from __future__ import annotations

import pytest

from joblet_parallel import Parallel, get_active_backend, parallel_config

joblib = pytest.importorskip("joblib")

CONFIGS = [
    {"backend": "loky", "n_jobs": 2},
    {"backend": "loky"},
    {"n_jobs": 3},
    {"backend": "threading", "n_jobs": 2},
    {"backend": "multiprocessing", "n_jobs": -1},
]
HINTS = [
    {"require": "sharedmem"},
    {"require": "sharedmem", "n_jobs": 2},
    {"prefer": "threads"},
    {"prefer": "threads", "n_jobs": 2},
]


def chosen(module, config, hint):
    with module.parallel_config(**config):
        parallel = module.Parallel(**hint)
        uses_threads = getattr(parallel._backend, "uses_threads", False)
        return uses_threads, parallel.n_jobs


@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("hint", HINTS, ids=str)
def test_backend_and_n_jobs_as_joblib(config, hint):
    import joblet_parallel

    assert chosen(joblet_parallel, config, hint) == chosen(joblib, config, hint)


def test_get_active_backend_drops_the_n_jobs_of_a_replaced_backend():
    with parallel_config(backend="loky", n_jobs=2):
        backend, n_jobs = get_active_backend(require="sharedmem")
        assert backend.uses_threads
        assert n_jobs is None
        assert Parallel(require="sharedmem").n_jobs == 1


def test_require_sharedmem_says_it_replaces_a_configured_backend(capsys):
    """From verbose=10, in joblib 1.6's words, on stdout; never for the default
    backend (nothing was configured) nor below verbose=10."""
    with parallel_config("loky"):
        Parallel(require="sharedmem", verbose=9)
        assert capsys.readouterr().out == ""
        parallel = Parallel(n_jobs=2, require="sharedmem", verbose=10)
    assert type(parallel._backend).__name__ == "ThreadingBackend"
    assert capsys.readouterr().out.strip() == (
        "Using ThreadingBackend as joblib backend instead of ProcessBackend as "
        "the latter does not provide shared memory semantics."
    )
    Parallel(require="sharedmem", verbose=10)
    assert capsys.readouterr().out == ""
