"""scikit-learn's joblib calls on joblet's executor, through
register_joblib_backend (scikit-learn is a test-only dependency)."""

from __future__ import annotations

import os

import pytest

import joblet_parallel

pytestmark = pytest.mark.timeout(300)

joblib = pytest.importorskip("joblib")
sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=8, random_state=0)


@pytest.fixture(scope="module")
def joblet_backend():
    joblet_parallel.register_joblib_backend()
    return "joblet"


def worker_pid(_):
    return os.getpid()


def test_joblib_parallel_runs_on_joblet_workers(joblet_backend):
    with joblib.parallel_config(backend=joblet_backend, n_jobs=2):
        backend, _ = joblib.parallel.get_active_backend()
        pids = joblib.Parallel()(joblib.delayed(worker_pid)(i) for i in range(4))
    assert type(backend).__module__ == "joblet_parallel._joblib_adapter"
    assert os.getpid() not in pids


def test_errors_in_tasks_keep_their_type(joblet_backend):
    with (
        joblib.parallel_config(backend=joblet_backend, n_jobs=2),
        pytest.raises(ZeroDivisionError),
    ):
        joblib.Parallel()(joblib.delayed(divmod)(1, i) for i in (1, 0, 2))


def test_grid_search_verbose_3_with_two_jobs(joblet_backend, data, capfd):
    X, y = data
    with joblib.parallel_config(backend=joblet_backend):
        search = GridSearchCV(
            LogisticRegression(max_iter=200), {"C": [0.1, 1.0]}, n_jobs=2, verbose=3
        ).fit(X, y)
    expected = GridSearchCV(
        LogisticRegression(max_iter=200), {"C": [0.1, 1.0]}, n_jobs=1
    ).fit(X, y)
    assert search.best_params_ == expected.best_params_
    assert search.cv_results_["mean_test_score"].tolist() == pytest.approx(
        expected.cv_results_["mean_test_score"].tolist()
    )
    # verbose > 1 calls joblib.logger.short_format_time in the workers.
    assert "total time=" in capfd.readouterr().out


def test_cross_val_score_with_two_jobs(joblet_backend, data):
    X, y = data
    with joblib.parallel_config(backend=joblet_backend):
        scores = cross_val_score(LogisticRegression(), X, y, n_jobs=2)
    assert scores.tolist() == pytest.approx(
        cross_val_score(LogisticRegression(), X, y, n_jobs=1).tolist()
    )


def test_random_forest_with_two_jobs(joblet_backend, data):
    X, y = data
    with joblib.parallel_config(backend=joblet_backend):
        forest = RandomForestClassifier(n_estimators=8, n_jobs=2, random_state=0)
        forest.fit(X, y)
        predicted = forest.predict(X)
    reference = RandomForestClassifier(n_estimators=8, n_jobs=1, random_state=0)
    assert (predicted == reference.fit(X, y).predict(X)).all()


def test_missing_joblib_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "joblib", None)
    with pytest.raises(ImportError, match="pip install joblib"):
        joblet_parallel.register_joblib_backend("joblet_missing")
