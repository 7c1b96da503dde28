"""Backends registered with joblib (as engines register theirs) run joblet's calls.

The engines themselves are tested in ``tests/engines`` (``nox -s engines``);
here joblib's own backends, registered under new names the way
``register_ray()`` registers Ray's, stand in for them.
"""

from __future__ import annotations

import traceback

import pytest

from joblet_parallel import Parallel, delayed, parallel_config

joblib = pytest.importorskip("joblib")


class JobError(Exception):
    pass


def fails_at(x, bad):
    if x == bad:
        raise JobError(f"task {x}")
    return x


@pytest.fixture(params=["threading", "multiprocessing"])
def joblib_registered(request):
    """joblib's own backend class, registered with joblib under a new name."""
    from joblib.parallel import BACKENDS

    name = f"from-joblib-{request.param}"
    joblib.register_parallel_backend(name, BACKENDS[request.param])
    yield name
    BACKENDS.pop(name, None)


@pytest.mark.timeout(120)
def test_a_name_registered_with_joblib_runs_joblets_parallel(joblib_registered):
    with parallel_config(backend=joblib_registered, n_jobs=2):
        assert Parallel()(delayed(abs)(-i) for i in range(10)) == list(range(10))
    out = Parallel(n_jobs=2, backend=joblib_registered, return_as="generator")(
        delayed(abs)(-i) for i in range(4)
    )
    assert list(out) == [0, 1, 2, 3]


@pytest.mark.timeout(120)
def test_errors_keep_their_type_and_the_workers_traceback(joblib_registered):
    with pytest.raises(JobError, match="task 2") as caught:
        Parallel(n_jobs=2, backend=joblib_registered)(
            delayed(fails_at)(i, 2) for i in range(5)
        )
    assert "fails_at" in "".join(traceback.format_exception(caught.value))
    out = Parallel(n_jobs=2, backend=joblib_registered, return_exceptions=True)(
        delayed(fails_at)(i, 2) for i in range(4)
    )
    assert isinstance(out[2], JobError)
    assert [out[0], out[1], out[3]] == [0, 1, 3]


def test_a_task_error_returned_as_a_value_is_raised_again():
    """What joblib's task wrapper returns in place of a result (joblibspark)."""
    from joblet_parallel._joblib_backends import CapturedBatch, TaskFailure, _as_raised

    def batch():
        raise JobError("inside the engine")

    result = CapturedBatch(batch)()
    assert isinstance(result, TaskFailure)
    with pytest.raises(JobError, match="inside the engine") as caught:
        _as_raised(result)
    assert "batch" in str(caught.value.__cause__)


def test_an_unknown_name_lists_joblibs_names_and_suggests(joblib_registered):
    with pytest.raises(ValueError, match=f"did you mean {joblib_registered!r}"):
        Parallel(backend=joblib_registered + "x")


def test_nothing_is_imported_from_joblib_until_a_name_is_missing():
    import subprocess
    import sys

    code = (
        "import sys, joblet_parallel\n"
        "joblet_parallel.Parallel(n_jobs=2)(joblet_parallel.delayed(abs)(-1) for _ in range(2))\n"
        "print('joblib' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "False", done.stderr[-2000:]
