"""Large arguments travel to the cluster once."""

from __future__ import annotations

import pytest

from joblet_parallel import Parallel, delayed, parallel_config

np = pytest.importorskip("numpy")
pytestmark = pytest.mark.timeout(120)


def total(array, offset=0):
    return float(array.sum()) + offset


@pytest.fixture
def count_scatters(thread_client, monkeypatch):
    calls = []
    original = type(thread_client).scatter

    def counting_scatter(self, data, *args, **kwargs):
        calls.append(data)
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(type(thread_client), "scatter", counting_scatter)
    return calls


def test_same_large_array_is_scattered_once(count_scatters):
    big = np.ones(500_000)  # 4 MB
    with parallel_config("dask"):
        results = Parallel(batch_size=1)(delayed(total)(big, i) for i in range(10))
    assert results == [500_000.0 + i for i in range(10)]
    assert len(count_scatters) == 1


def test_equal_arrays_are_deduplicated_by_content(count_scatters):
    arrays = [np.full(300_000, 2.0) for _ in range(5)]  # equal content, five objects
    with parallel_config("dask"):
        results = Parallel(batch_size=1)(delayed(total)(a) for a in arrays)
    assert results == [600_000.0] * 5
    assert len(count_scatters) == 1


def test_small_arguments_are_not_scattered(count_scatters):
    small = np.ones(10)
    with parallel_config("dask"):
        Parallel()(delayed(total)(small) for _ in range(5))
    assert count_scatters == []


def test_explicit_scatter_list_is_sent_up_front(count_scatters):
    data = np.arange(10.0)  # small: only scattered because asked
    with parallel_config("dask", scatter=[data]):
        results = Parallel()(delayed(total)(data) for _ in range(3))
    assert results == [45.0] * 3
    assert len(count_scatters) == 1


def test_scatter_threshold_none_disables_automatic_scatter(count_scatters):
    big = np.ones(500_000)
    with parallel_config("dask", scatter_threshold=None):
        Parallel()(delayed(total)(big) for _ in range(3))
    assert count_scatters == []
