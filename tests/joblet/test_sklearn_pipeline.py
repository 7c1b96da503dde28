"""A scikit-learn Pipeline cached with joblet.Memory (scikit-learn is a test-only
dependency, installed in the full test session)."""

from __future__ import annotations

import pytest

import joblet

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=8, random_state=0)


FITS: list[int] = []


class CountingScaler(StandardScaler):
    """Records each real fit (a cache hit skips it)."""

    def fit(self, X, y=None, **params):
        FITS.append(len(X))
        return super().fit(X, y, **params)


@pytest.mark.parametrize("compress", [False, 3, ("lz4", 1)], ids=repr)
def test_cached_pipeline_fitted_twice_hits_the_cache(tmp_path, data, compress):
    X, y = data
    memory = joblet.Memory(tmp_path, verbose=0, compress=compress)

    def pipeline():
        return Pipeline(
            [("scale", CountingScaler()), ("fit", LogisticRegression())],
            memory=memory,
        )

    FITS.clear()
    first = pipeline().fit(X, y)
    assert [len(X)] == FITS
    second = pipeline().fit(X, y)
    assert [len(X)] == FITS  # the second fit read the stored transformer
    assert (first.predict(X) == second.predict(X)).all()
    pipeline().fit(X[:60], y[:60])
    assert [len(X), 60] == FITS  # other data: a miss
