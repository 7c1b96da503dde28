"""The sequential backend: every task in the calling thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._validation import check_effective_n_jobs, refuse_unknown_options
from ._base import ParallelBackendBase


class SequentialBackend(ParallelBackendBase):
    """Runs every task in the calling thread, one after the other."""

    uses_threads = True
    supports_sharedmem = True
    supports_return_generator = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        refuse_unknown_options(self, self.backend_kwargs, "backend parameters")

    def configure(
        self,
        n_jobs: int | None = 1,
        parallel: Any = None,
        prefer: str | None = None,
        require: str | None = None,
        **backend_kwargs: Any,
    ) -> int:
        refuse_unknown_options(self, backend_kwargs, "keyword arguments")
        return super().configure(n_jobs, parallel)

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        check_effective_n_jobs(n_jobs)
        return 1

    def submit(
        self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
    ) -> Any:
        raise RuntimeError(
            "SequentialBackend.submit is never called: Parallel runs inline"
        )
