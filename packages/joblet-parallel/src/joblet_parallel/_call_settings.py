"""What a backend reads of the call it configures: a frozen :class:`CallSettings`.

``Parallel`` builds one per configuration and backends read it, rather than
reading the ``Parallel`` object's attributes back up (as an httpx transport
receives a request, not the client). joblib's protocol still hands backends
the ``parallel`` object itself, for backends written for joblib; the built-in
backends read :attr:`ParallelBackendBase.settings
<joblet_parallel.ParallelBackendBase>`, taken from it by
:meth:`CallSettings.of`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

__all__ = ["CallSettings"]


@dataclass(frozen=True)
class CallSettings:
    """The settings of one call (or ``with Parallel`` block), for its backend.

    Attributes
    ----------
    n_jobs : int or None
        The ``n_jobs`` given to ``configure``.
    backend_kwargs : Mapping
        The backend options ``Parallel`` received (read-only).
    max_nbytes, mmap_mode, temp_folder
        The memory mapping of large arguments (``Parallel``'s parameters).
    verbose : int
        ``Parallel``'s verbosity.
    managed : bool
        The workers serve a ``with Parallel(...)`` block, not one call.
    log : callable or None
        Prints a message of the call when ``verbose`` asks for it.
    """

    n_jobs: int | None = 1
    backend_kwargs: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({})
    )
    max_nbytes: int | str | None = "1M"
    mmap_mode: str | None = "r"
    temp_folder: str | None = None
    verbose: int = 0
    managed: bool = False
    log: Callable[[str], None] | None = None

    @classmethod
    def of(
        cls, parallel: Any, n_jobs: int | None, backend_kwargs: Mapping[str, Any]
    ) -> CallSettings:
        """The settings for ``configure(n_jobs, parallel, **backend_kwargs)``.

        Those ``parallel`` carries (joblet's ``Parallel.call_settings``, or
        ``parallel`` itself when it is a :class:`CallSettings`) with this
        ``n_jobs``, else built from
        the public attributes of another caller (joblib's ``Parallel``, a test
        double), with joblib's defaults for what it does not have.
        """
        carried = (
            parallel
            if isinstance(parallel, CallSettings)
            else getattr(parallel, "call_settings", None)
        )
        if isinstance(carried, CallSettings):
            return (
                carried if carried.n_jobs == n_jobs else replace(carried, n_jobs=n_jobs)
            )
        return cls(
            n_jobs=n_jobs,
            backend_kwargs=MappingProxyType(dict(backend_kwargs)),
            max_nbytes=getattr(parallel, "max_nbytes", "1M"),
            mmap_mode=getattr(parallel, "mmap_mode", "r"),
            temp_folder=getattr(parallel, "temp_folder", None),
            verbose=getattr(parallel, "verbose", 0) or 0,
        )
