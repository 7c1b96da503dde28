"""Backends receive a frozen CallSettings of the call going down, instead of
reading the Parallel object's private attributes back up."""

from __future__ import annotations

import dataclasses

import pytest

from joblet_parallel import Parallel, ParallelBackendBase, delayed
from joblet_parallel._call_settings import CallSettings

pytestmark = pytest.mark.timeout(60)


class Recording(ParallelBackendBase):
    """Runs batches inline and records what configure handed it."""

    supports_retrieve_callback = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen: list[tuple[int | None, CallSettings | None]] = []

    def effective_n_jobs(self, n_jobs):
        return 2

    def _configure_workers(self, n_jobs, *, color=None, **options):
        self.seen.append((n_jobs, self.settings))
        return super()._configure_workers(n_jobs, **options)

    def apply_async(self, func, callback=None):
        from concurrent.futures import Future

        future = Future()
        future.set_result(func())
        if callback is not None:
            callback(future)
        return future


def test_the_backend_reads_the_calls_settings():
    backend = Recording()
    out = Parallel(
        n_jobs=2, backend=backend, max_nbytes="2M", mmap_mode="r+", color="red"
    )(delayed(abs)(-i) for i in range(3))
    assert out == [0, 1, 2]
    [(n_jobs, settings)] = backend.seen
    assert n_jobs == 2
    assert isinstance(settings, CallSettings)
    assert (settings.n_jobs, dict(settings.backend_kwargs)) == (2, {"color": "red"})
    assert (settings.max_nbytes, settings.mmap_mode) == ("2M", "r+")
    assert settings.managed is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.n_jobs = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.backend_kwargs["color"] = "blue"  # type: ignore[index]


def test_abort_reconfigures_with_the_same_settings():
    backend = Recording()
    with Parallel(n_jobs=2, backend=backend, color="red") as parallel:
        parallel(delayed(abs)(-i) for i in range(2))
        backend.abort_everything(ensure_ready=True)
    n_jobs, settings = backend.seen[-1]
    assert n_jobs == 2
    assert settings is not None
    assert settings.managed is True
    assert dict(settings.backend_kwargs) == {"color": "red"}


def test_a_foreign_caller_gets_joblibs_defaults():
    class JoblibLike:
        n_jobs = 3
        verbose = 5

    settings = CallSettings.of(JoblibLike(), 3, {"a": 1})
    assert (settings.n_jobs, settings.verbose, settings.max_nbytes) == (3, 5, "1M")
    assert dict(settings.backend_kwargs) == {"a": 1}
    assert CallSettings.of(settings, 4, {}).n_jobs == 4
