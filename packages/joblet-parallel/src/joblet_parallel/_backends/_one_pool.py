"""A backend owning one pool of workers, rebuilt when its size changes."""

from __future__ import annotations

from typing import Any, ClassVar

from .._validation import refuse_unknown_options
from ._base import ParallelBackendBase, _effective_n_jobs
from ._claims import CopiedPerCall


class _OnePoolBackend(CopiedPerCall, ParallelBackendBase):
    """A backend owning one pool of ``n_jobs`` workers, rebuilt when that changes."""

    per_call_state: ClassVar[dict[str, Any]] = {
        **CopiedPerCall.per_call_state,
        "_pool": None,
        "_pool_size": 0,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        refuse_unknown_options(self, self.backend_kwargs, "backend parameters")
        self._pool: Any = None
        self._pool_size = 0

    def _new_pool(self, n_jobs: int) -> Any:
        raise NotImplementedError

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        return _effective_n_jobs(n_jobs)

    def _configure_workers(self, n_jobs: int | None, **options: Any) -> int:
        refuse_unknown_options(self, options, "keyword arguments")
        n_jobs = self.effective_n_jobs(n_jobs)
        if n_jobs > 1 and (self._pool is None or self._pool_size != n_jobs):
            self.terminate()
            self._pool = self._new_pool(n_jobs)
            self._pool_size = n_jobs
        return n_jobs
