"""return_exceptions, retry_on and task_timeout with the dask backend."""

from __future__ import annotations

import os

import pytest

from joblet_parallel import Parallel, delayed, parallel_config

pytestmark = pytest.mark.timeout(120)


def fail_on_odd(i):
    if i % 2:
        raise ZeroDivisionError(f"odd {i}")
    return i


def flaky(marker):
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        raise ConnectionError("first attempt fails")
    return "ok"


def test_return_exceptions_on_dask(process_client):
    with parallel_config(backend="dask"):
        out = Parallel(return_exceptions=True)(
            delayed(fail_on_odd)(i) for i in range(6)
        )
    assert out[0::2] == [0, 2, 4]
    assert all(isinstance(error, ZeroDivisionError) for error in out[1::2])
    assert str(out[3]) == "odd 3"


def test_retry_on_on_dask(process_client, tmp_path):
    with parallel_config(backend="dask"):
        out = Parallel(retries=1, retry_on=ConnectionError)(
            delayed(flaky)(str(tmp_path / "marker")) for _ in range(1)
        )
    assert out == ["ok"]


def test_task_timeout_is_refused_clearly_on_dask(process_client):
    with (
        parallel_config(backend="dask"),
        pytest.raises(ValueError, match="task_timeout=5 needs process workers"),
    ):
        Parallel(task_timeout=5)(delayed(abs)(i) for i in range(2))
