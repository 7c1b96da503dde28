"""joblet on the engines users already run: Ray, Spark, ipyparallel.

After the user's usual registration line (which registers with joblib),
``joblet.parallel_config(backend=name)`` and ``Parallel(backend=name)`` run on
that engine unchanged. The core of the backend contract runs on each, and a
scikit-learn search gives the same results as on joblet's process backend.
"""

from __future__ import annotations

import traceback

import pytest

import joblet

np = pytest.importorskip("numpy")


class EngineTaskError(Exception):
    """Raised by a task, to check that its type comes back."""


def square(x):
    return x * x


def fails_at_three(x):
    if x == 3:
        raise EngineTaskError(f"task {x} failed")
    return x


def column_sum(array, column):
    return float(array[:, column].sum())


@pytest.mark.timeout(300)
def test_results_come_back_in_order(engine):
    with joblet.parallel_config(backend=engine, n_jobs=2):
        assert joblet.Parallel()(joblet.delayed(square)(i) for i in range(20)) == [
            i * i for i in range(20)
        ]
    # Parallel(backend=...) takes the name too
    out = joblet.Parallel(n_jobs=2, backend=engine)(
        joblet.delayed(square)(i) for i in range(5)
    )
    assert out == [0, 1, 4, 9, 16]


@pytest.mark.timeout(300)
def test_an_error_keeps_its_type_and_remote_traceback(engine):
    with (
        joblet.parallel_config(backend=engine, n_jobs=2),
        pytest.raises(EngineTaskError, match="task 3 failed") as caught,
    ):
        joblet.Parallel()(joblet.delayed(fails_at_three)(i) for i in range(6))
    text = "".join(traceback.format_exception(caught.value))
    assert "fails_at_three" in text


@pytest.mark.timeout(300)
def test_return_exceptions_puts_the_error_in_place(engine):
    with joblet.parallel_config(backend=engine, n_jobs=2):
        out = joblet.Parallel(return_exceptions=True)(
            joblet.delayed(fails_at_three)(i) for i in range(5)
        )
    assert out[:3] == [0, 1, 2]
    assert isinstance(out[3], EngineTaskError)
    assert out[4] == 4


@pytest.mark.timeout(300)
@pytest.mark.parametrize("return_as", ["generator", "generator_unordered"])
def test_generators(engine, return_as):
    with joblet.parallel_config(backend=engine, n_jobs=2):
        out = joblet.Parallel(return_as=return_as)(
            joblet.delayed(square)(i) for i in range(8)
        )
        results = list(out)
    if return_as == "generator":
        assert results == [i * i for i in range(8)]
    else:
        assert sorted(results) == [i * i for i in range(8)]


@pytest.mark.timeout(300)
def test_a_large_numpy_argument(engine):
    data = np.arange(4_000_000, dtype=np.float64).reshape(-1, 4)  # 32 MB
    with joblet.parallel_config(backend=engine, n_jobs=2):
        out = joblet.Parallel()(joblet.delayed(column_sum)(data, c) for c in range(4))
    assert out == [float(data[:, c].sum()) for c in range(4)]


@pytest.mark.timeout(300)
def test_a_cached_function_inside_tasks(engine, tmp_path):
    memory = joblet.Memory(tmp_path, verbose=0)
    cached = memory.cache(square)
    with joblet.parallel_config(backend=engine, n_jobs=2):
        first = joblet.Parallel()(joblet.delayed(cached)(i) for i in range(6))
    assert first == [i * i for i in range(6)]
    assert all(cached.check_call_in_cache(i) for i in range(6))


@pytest.mark.timeout(600)
def test_a_scikit_learn_search_matches_the_process_backend(engine):
    joblib = pytest.importorskip("joblib")
    pytest.importorskip("sklearn")
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    X, y = make_classification(n_samples=200, n_features=8, random_state=0)
    grid = {"C": [0.01, 0.1, 1.0, 10.0]}

    def search(backend):
        with joblib.parallel_config(backend=backend, n_jobs=2):
            found = GridSearchCV(LogisticRegression(max_iter=500), grid, n_jobs=2)
            return found.fit(X, y).cv_results_["mean_test_score"]

    from joblet_parallel import register_joblib_backend

    register_joblib_backend()  # joblet's process executor, for joblib
    np.testing.assert_allclose(search(engine), search("joblet"))
