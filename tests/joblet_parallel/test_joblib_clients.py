"""Code written for joblib runs on joblet unchanged: each behaviour is checked on
joblet and, side by side, on joblib 1.6 (a test dependency)."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import warnings

import cloudpickle
import pytest

import joblet_parallel

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)

joblib = pytest.importorskip("joblib")

LIBRARIES = {"joblet": joblet_parallel, "joblib": joblib}


@pytest.fixture(params=sorted(LIBRARIES))
def lib(request):
    return LIBRARIES[request.param]


def square(x):
    return x * x


def fail_on_three(x):
    if x == 3:
        raise ValueError(f"bad value {x}")
    return x


def interrupt_on_three(x):
    if x == 3:
        raise KeyboardInterrupt
    return x


def worker_identity(_):
    return os.getpid(), threading.get_ident()


def nested_multiprocessing(lib_name):
    lib = LIBRARIES[lib_name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = lib.Parallel(n_jobs=2, backend="multiprocessing")(
            lib.delayed(square)(i) for i in range(4)
        )
    return out, [str(w.message) for w in caught]


# -- n_jobs ------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["threading", "loky", "multiprocessing"])
def test_n_jobs_none_takes_the_configured_n_jobs(lib, backend):
    # scikit-learn passes n_jobs=None and relies on the user's parallel_config.
    with lib.parallel_config(backend=backend, n_jobs=2):
        parallel = lib.Parallel(n_jobs=None)
        assert parallel.n_jobs == 2
        where = parallel(lib.delayed(worker_identity)(i) for i in range(4))
    here = (os.getpid(), threading.get_ident())
    assert here not in where  # n_jobs=1 would have run inline, in this thread


def test_n_jobs_none_outside_a_configuration_means_one(lib):
    assert lib.Parallel(n_jobs=None).n_jobs == 1
    out = lib.Parallel(n_jobs=None)(lib.delayed(worker_identity)(i) for i in range(2))
    assert out == [(os.getpid(), threading.get_ident())] * 2


@pytest.mark.parametrize("n_jobs", [2.0, 2.3, "2", "-1"])
def test_n_jobs_converted_with_int_as_joblib(lib, n_jobs):
    parallel = lib.Parallel(n_jobs=n_jobs, backend="threading")
    assert parallel.n_jobs == int(float(n_jobs))
    assert parallel(lib.delayed(square)(i) for i in range(5)) == [0, 1, 4, 9, 16]


@pytest.mark.parametrize("n_jobs", ["two", "2.0", 0, 0.5])
def test_n_jobs_that_joblib_refuses_is_refused(lib, n_jobs):
    with pytest.raises(ValueError, match="n_jobs"):
        lib.Parallel(n_jobs=n_jobs, backend="threading")(
            lib.delayed(square)(i) for i in range(3)
        )


# -- pre_dispatch -------------------------------------------------------------


@pytest.mark.parametrize(
    "pre_dispatch",
    ["2 * n_jobs", "n_jobs + 2", "3*n_jobs//2", "n_jobs**2", "(n_jobs+1)*2", 3, "all"],
)
def test_pre_dispatch_accepts_joblib_expressions(lib, pre_dispatch):
    out = lib.Parallel(n_jobs=2, backend="threading", pre_dispatch=pre_dispatch)(
        lib.delayed(square)(i) for i in range(20)
    )
    assert out == [i * i for i in range(20)]


def test_pre_dispatch_parsing():
    from joblet_parallel._validation import parse_pre_dispatch

    assert parse_pre_dispatch("2 * n_jobs", 4) == 8
    assert parse_pre_dispatch("1.5*n_jobs", 2) == 3
    assert parse_pre_dispatch("n_jobs + 4", 2) == 6
    assert parse_pre_dispatch("3 * n_jobs // 2", 3) == 4
    assert parse_pre_dispatch("all", 3) is None
    assert parse_pre_dispatch(5, 3) == 5
    for bad in ("__import__('os').system('true')", "n_jobs - 10", "9**9**9", "1/0"):
        with pytest.raises(ValueError, match="pre_dispatch"):
            parse_pre_dispatch(bad, 2)


# -- the backend protocol as joblib 1.x backends are written ----------------------


class _ImmediateResult:
    def __init__(self, batch):
        try:
            self.results = batch()
            self.error = None
        except Exception as error:
            self.error = error

    def get(self, timeout=None):
        if self.error is not None:
            raise self.error
        return self.results


def make_legacy_backend(base):
    """A backend written as joblib's docs and third-party backends write them:
    mandatory constructor parameter, callback given the future-like object,
    configure taking only n_jobs and parallel, old-style get_nested_backend."""

    class LegacyBackend(base):
        supports_retrieve_callback = False

        def __init__(self, workers, **kwargs):
            super().__init__(**kwargs)
            self.workers = workers
            self.calls = 0
            self.configured_parallel = None

        def effective_n_jobs(self, n_jobs):
            return self.workers

        def configure(self, n_jobs=1, parallel=None, **_):
            self.parallel = self.configured_parallel = parallel
            return self.effective_n_jobs(n_jobs)

        def start_call(self):
            self.calls += 1

        def apply_async(self, func, callback=None):
            result = _ImmediateResult(func)
            if callback is not None:
                callback(result)
            return result

        submit = apply_async

        def get_nested_backend(self):
            return type(self)(workers=1)

    return LegacyBackend


def test_legacy_backend_instance_runs_and_reads_results_through_get(lib):
    backend = make_legacy_backend(lib.ParallelBackendBase)(workers=2)
    out = lib.Parallel(n_jobs=2, backend=backend)(
        lib.delayed(square)(i) for i in range(10)
    )
    assert out == [i * i for i in range(10)]


def test_legacy_backend_errors_inside_tasks_reach_the_caller(lib):
    backend = make_legacy_backend(lib.ParallelBackendBase)(workers=2)
    with pytest.raises(ValueError, match="bad value 3"):
        lib.Parallel(n_jobs=2, backend=backend)(
            lib.delayed(fail_on_three)(i) for i in range(10)
        )


def test_backend_with_no_worker_raises_runtime_error(lib):
    backend = make_legacy_backend(lib.ParallelBackendBase)(workers=0)
    with pytest.raises(RuntimeError, match="has no active worker"):
        lib.Parallel(n_jobs=2, backend=backend)(
            lib.delayed(square)(i) for i in range(3)
        )


# -- timeout --------------------------------------------------------------------


def test_timeout_is_a_multiprocessing_and_a_builtin_timeout_error(lib):
    import time

    with pytest.raises(multiprocessing.TimeoutError) as info:
        lib.Parallel(n_jobs=2, backend="threading", timeout=0.2)(
            lib.delayed(time.sleep)(d) for d in (0.0, 3.0, 0.0)
        )
    if lib is joblet_parallel:
        assert isinstance(info.value, TimeoutError)
        # Threads cannot be stopped: the message must not claim they were.
        assert "cannot be stopped" in str(info.value)
        assert "were stopped" not in str(info.value)


def test_process_timeout_is_caught_as_builtin_timeout_error():
    import time

    with pytest.raises(TimeoutError, match="were stopped"):
        joblet_parallel.Parallel(n_jobs=2, backend="loky", timeout=0.5)(
            joblet_parallel.delayed(time.sleep)(d) for d in (0.0, 5.0)
        )


# -- KeyboardInterrupt and nesting ----------------------------------------------


@pytest.mark.parametrize("backend", ["multiprocessing", "loky"])
def test_keyboard_interrupt_in_a_task_reaches_the_caller(lib, backend):
    with pytest.raises(KeyboardInterrupt):
        lib.Parallel(n_jobs=2, backend=backend)(
            lib.delayed(interrupt_on_three)(i) for i in range(10)
        )
    # The backend is usable again afterwards.
    assert lib.Parallel(n_jobs=2, backend=backend)(
        lib.delayed(square)(i) for i in range(4)
    ) == [0, 1, 4, 9]


def test_nested_parallel_in_a_multiprocessing_worker_warns_and_runs(lib):
    name = "joblet" if lib is joblet_parallel else "joblib"
    out = lib.Parallel(n_jobs=2, backend="multiprocessing")(
        lib.delayed(nested_multiprocessing)(name) for _ in range(2)
    )
    for results, messages in out:
        assert results == [0, 1, 4, 9]
        assert any("cannot be nested" in message for message in messages)


@pytest.fixture
def restore_default_backend(lib):
    yield
    lib.register_parallel_backend(
        "loky", LIBRARIES_LOKY[lib.__name__], make_default=True
    )


def _loky_class(lib):
    if lib is joblet_parallel:
        from joblet_parallel._backends import ProcessBackend

        return ProcessBackend
    from joblib._parallel_backends import LokyBackend

    return LokyBackend


LIBRARIES_LOKY = {module.__name__: _loky_class(module) for module in LIBRARIES.values()}


def test_backend_with_mandatory_parameters_registered_by_name(lib):
    lib.register_parallel_backend(
        "legacy_test", make_legacy_backend(lib.ParallelBackendBase)
    )
    with lib.parallel_config(backend="legacy_test", workers=2, n_jobs=2):
        out = lib.Parallel()(lib.delayed(square)(i) for i in range(6))
    assert out == [i * i for i in range(6)]


def test_backend_instance_given_to_parallel_config(lib):
    backend = make_legacy_backend(lib.ParallelBackendBase)(workers=2)
    with lib.parallel_config(backend=backend, n_jobs=2):
        parallel = lib.Parallel()
        assert parallel(lib.delayed(square)(i) for i in range(6)) == [
            i * i for i in range(6)
        ]
    assert backend.calls == 1
    assert backend.configured_parallel is parallel


def test_make_default_backend(lib, restore_default_backend):
    import functools

    factory = functools.partial(make_legacy_backend(lib.ParallelBackendBase), workers=2)
    lib.register_parallel_backend("legacy_default", factory, make_default=True)
    parallel = lib.Parallel(n_jobs=2)
    assert parallel(lib.delayed(square)(i) for i in range(4)) == [0, 1, 4, 9]
    assert type(parallel._backend).__name__ == "LegacyBackend"


def test_configure_taking_only_n_jobs_and_parallel():
    # A backend written against joblib's documented signature. (joblib 1.6 itself
    # passes its settings to configure as keyword arguments, so there this
    # backend fails with a TypeError; joblet passes only what the user gave.)
    class Strict(make_legacy_backend(joblet_parallel.ParallelBackendBase)):
        def configure(self, n_jobs=1, parallel=None):
            self.parallel = parallel
            return self.effective_n_jobs(n_jobs)

    out = joblet_parallel.Parallel(n_jobs=2, backend=Strict(workers=2))(
        joblet_parallel.delayed(square)(i) for i in range(4)
    )
    assert out == [0, 1, 4, 9]


def _counting_threading_backend(lib):
    if lib is joblet_parallel:
        from joblet_parallel._backends import ThreadingBackend
    else:
        from joblib._parallel_backends import ThreadingBackend

    class Counting(ThreadingBackend):
        starts = 0

        def start_call(self):
            self.starts += 1
            super().start_call()

    return Counting


def test_parallel_backend_yields_the_instance_parallel_runs_on(lib):
    with lib.parallel_backend("threading", n_jobs=2) as (backend, n_jobs):
        parallel = lib.Parallel()
        parallel(lib.delayed(square)(i) for i in range(4))
        assert n_jobs == 2
        assert backend.parallel is parallel
    counting = _counting_threading_backend(lib)()
    with lib.parallel_backend(counting, n_jobs=2) as (backend, _):
        for _ in range(3):
            lib.Parallel()(lib.delayed(square)(i) for i in range(4))
    assert backend is counting
    assert counting.starts == 3


def test_a_busy_configured_instance_is_not_shared_between_threads():
    # Two threads running calls on one set_global backend at once must not close
    # each other's pool: the second call runs on a copy.
    results = []
    barrier = threading.Barrier(2, timeout=30)

    def work(k):
        barrier.wait()
        results.append(
            joblet_parallel.Parallel()(
                joblet_parallel.delayed(square)(i + k) for i in range(200)
            )
        )

    joblet_parallel.parallel_config.set_global(backend="threading", n_jobs=2)
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        joblet_parallel.parallel_config.set_global()
    assert sorted(r[0] for r in results) == [0, 1]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_backend_accepts_a_multiprocessing_context(lib, method):
    context = multiprocessing.get_context(method)
    parallel = lib.Parallel(n_jobs=2, backend=context)
    out = parallel(lib.delayed(worker_identity)(i) for i in range(4))
    assert os.getpid() not in {pid for pid, _ in out}
    assert type(parallel._backend).__name__ == "MultiprocessingBackend"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backend": "loky"},
        {"backend": "multiprocessing"},
        {"prefer": "processes"},
    ],
)
def test_sharedmem_with_a_process_backend_is_refused(lib, kwargs):
    with pytest.raises(ValueError, match=r"(?i)shared memory|sharedmem"):
        lib.Parallel(n_jobs=2, require="sharedmem", **kwargs)(
            lib.delayed(square)(i) for i in range(3)
        )


def set_worker_flag(value):
    os.environ["JOBLET_TEST_INITIALIZED"] = value


def read_worker_flag(_):
    return os.environ.get("JOBLET_TEST_INITIALIZED")


@pytest.mark.parametrize("backend", ["loky", "multiprocessing"])
@pytest.mark.parametrize("where", ["Parallel", "parallel_config"])
def test_initializer_runs_once_in_each_worker(lib, backend, where):
    flag = f"{lib.__name__}-{backend}-{where}"
    settings = {"initializer": set_worker_flag, "initargs": (flag,)}
    if where == "Parallel":
        out = lib.Parallel(n_jobs=2, backend=backend, **settings)(
            lib.delayed(read_worker_flag)(i) for i in range(4)
        )
    else:
        with lib.parallel_config(backend=backend, n_jobs=2, **settings):
            out = lib.Parallel()(lib.delayed(read_worker_flag)(i) for i in range(4))
    assert out == [flag] * 4
    assert os.environ.get("JOBLET_TEST_INITIALIZED") is None  # not in the parent


def append_to_proxy(shared, value):
    shared.append(value)
    return len(shared) > 0


@pytest.mark.parametrize("backend", ["loky", "multiprocessing"])
def test_manager_proxy_as_task_argument(lib, backend):
    with multiprocessing.get_context("forkserver").Manager() as manager:
        shared = manager.list()
        out = lib.Parallel(n_jobs=2, backend=backend)(
            lib.delayed(append_to_proxy)(shared, i) for i in range(4)
        )
        assert out == [True] * 4
        assert sorted(shared) == [0, 1, 2, 3]
