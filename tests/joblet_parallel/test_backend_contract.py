"""The backend contract (backend_contract.py) on joblet-parallel's backends and
on a third-party backend written to joblib's protocol; the dask backend runs it
in joblet-dask's tests."""

from __future__ import annotations

from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import Any

import pytest
from joblet_test_helpers import load_helper

from joblet_parallel import ParallelBackendBase

contract = load_helper(Path(__file__).with_name("backend_contract.py"))

pytestmark = pytest.mark.timeout(120)


class ThirdPartyBackend(ParallelBackendBase):
    """Written as joblib's documentation shows: ``apply_async`` on a pool,
    results read through the returned object's ``get`` (no result callback),
    and nothing joblet-specific."""

    supports_return_generator = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pool: ThreadPool | None = None

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        return 2 if n_jobs is None or n_jobs < 0 else n_jobs

    def configure(
        self, n_jobs: int | None = 1, parallel: Any = None, **backend_args: Any
    ) -> int:
        self.parallel = parallel
        n_jobs = self.effective_n_jobs(n_jobs)
        if self._pool is None:
            self._pool = ThreadPool(n_jobs)
        return n_jobs

    def apply_async(self, func: Any, callback: Any = None) -> Any:
        assert self._pool is not None
        return self._pool.apply_async(func, callback=callback)

    def terminate(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def abort_everything(self, ensure_ready: bool = True) -> None:
        # threads cannot be stopped: the pool ends once they do, in the
        # background (ThreadPool.terminate would wait for them)
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        if ensure_ready:
            self.configure(n_jobs=self.parallel.n_jobs, parallel=self.parallel)


CASES = {
    "sequential": "sequential",
    "threading": "threading",
    "loky": "loky",
    "multiprocessing": "multiprocessing",
    "third-party": ThirdPartyBackend,
}


@pytest.fixture(params=list(CASES))
def contract_case(request: pytest.FixtureRequest) -> Any:
    backend = CASES[request.param]
    if isinstance(backend, type):
        backend = backend()
    return contract.Case(request.param, backend)


class TestBackendContract(contract.BackendContract):
    """Every behaviour of the contract, on each backend of ``CASES``."""


def test_the_docs_table_covers_every_backend_and_feature():
    contract.check_documented_matrix(contract.documented_matrix())


def test_the_docs_table_is_laid_out_as_rendered():
    # the page shows the table as render_matrix writes it (no hand edits that
    # the parser would read differently from a reader)
    text = contract.DOCS.read_text(encoding="utf-8")
    assert contract.render_matrix(contract.documented_matrix()) in text


def test_every_backend_of_the_table_is_under_contract():
    assert set(CASES) | {"dask"} == set(contract.BACKENDS)
