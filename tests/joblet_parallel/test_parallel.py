"""Parallel semantics under every backend: n_jobs, order, generators, batching,
progress, errors, configuration and backend registration."""

from __future__ import annotations

import importlib.metadata
import io
import sys
import threading
import time
from math import sqrt

import cloudpickle
import pytest

import joblet_parallel
from joblet_parallel import (
    Parallel,
    ParallelBackendBase,
    TaskPicklingError,
    UnknownBackendError,
    cpu_count,
    delayed,
    effective_n_jobs,
    parallel_backend,
    parallel_config,
    register_parallel_backend,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)

BACKENDS = ["loky", "threading", "sequential", "multiprocessing"]
FAST_BACKENDS = ["loky", "threading", "sequential"]


def square(x):
    return x * x


def slow_square(x, delay=0.01):
    time.sleep(delay)
    return x * x


def fail_on(x, bad=3):
    if x == bad:
        raise ValueError(f"bad value {x}")
    return x


@pytest.mark.parametrize("backend", BACKENDS)
def test_results_in_input_order(backend):
    expected = [i * i for i in range(30)]
    assert (
        Parallel(n_jobs=2, backend=backend)(delayed(square)(i) for i in range(30))
        == expected
    )


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_kwargs_and_batch_sizes(backend):
    for batch_size in ("auto", 1, 7):
        out = Parallel(n_jobs=2, backend=backend, batch_size=batch_size)(
            delayed(slow_square)(i, delay=0) for i in range(50)
        )
        assert out == [i * i for i in range(50)]


def test_n_jobs_rules():
    assert effective_n_jobs(1) == 1
    assert effective_n_jobs(-1) == cpu_count()
    assert effective_n_jobs(-2) == max(cpu_count() - 1, 1)
    with pytest.raises(ValueError, match="n_jobs == 0"):
        Parallel(n_jobs=0)
    assert Parallel().n_jobs == 1  # as joblib: unset means the backend's default
    # None means 1 outside a context: runs inline, in this thread.
    assert (
        Parallel()(delayed(threading.get_ident)() for _ in range(3))
        == [threading.get_ident()] * 3
    )
    with parallel_config(n_jobs=3):
        assert Parallel().n_jobs == 3
        assert effective_n_jobs(None) == 3


def test_empty_input():
    for backend in FAST_BACKENDS:
        assert Parallel(n_jobs=2, backend=backend)([]) == []


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_return_as_generator_is_ordered_and_lazy(backend):
    produced = []

    def tasks():
        for i in range(20):
            produced.append(i)
            yield delayed(square)(i)

    out = Parallel(
        n_jobs=2, backend=backend, return_as="generator", pre_dispatch=2, batch_size=1
    )(tasks())
    first = next(out)
    assert first == 0
    time.sleep(0.1)
    # Results computed ahead are bounded (pre_dispatch), not the whole input.
    assert len(produced) <= 8
    assert [first, *out] == [i * i for i in range(20)]


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_return_as_generator_unordered(backend):
    delays = [0.3, 0.0, 0.0, 0.0]
    out = Parallel(
        n_jobs=2, backend=backend, return_as="generator_unordered", batch_size=1
    )(delayed(slow_square)(i, delay=d) for i, d in enumerate(delays))
    results = list(out)
    assert sorted(results) == [0, 1, 4, 9]
    assert results[-1] == 0  # the slow one finishes last


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_lazy_input_is_consumed_as_work_completes(backend):
    consumed = []

    def tasks():
        for i in range(12):
            consumed.append(i)
            yield delayed(slow_square)(i, delay=0.02)

    gen = Parallel(
        n_jobs=2, backend=backend, return_as="generator", batch_size=1, pre_dispatch=2
    )(tasks())
    next(gen)
    # Far from everything was pulled from the input for the first result.
    assert len(consumed) <= 8
    gen.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_error_keeps_type_and_cancels_pending_work(backend):
    with pytest.raises(ValueError, match="bad value 3"):
        Parallel(n_jobs=2, backend=backend)(delayed(fail_on)(i) for i in range(20))
    # The backend is usable again afterwards.
    assert Parallel(n_jobs=2, backend=backend)(
        delayed(square)(i) for i in range(4)
    ) == [0, 1, 4, 9]


def test_error_from_lazy_input_is_raised():
    def tasks():
        yield delayed(square)(1)
        raise KeyError("from the producer")

    for backend in FAST_BACKENDS:
        with pytest.raises(KeyError, match="from the producer"):
            Parallel(n_jobs=2, backend=backend)(tasks())


def test_calling_a_running_parallel_raises():
    parallel = Parallel(n_jobs=2, backend="threading", return_as="generator")
    gen = parallel(delayed(square)(i) for i in range(10))
    with pytest.raises(RuntimeError, match="already running"):
        parallel(delayed(square)(i) for i in range(3))
    assert list(gen) == [i * i for i in range(10)]
    assert list(parallel(delayed(square)(i) for i in range(3))) == [0, 1, 4]


def test_reentrant_call_from_a_task_raises():
    parallel = Parallel(n_jobs=2, backend="threading")

    def inner(_):
        return parallel(delayed(square)(i) for i in range(2))

    with pytest.raises(RuntimeError, match="already running"):
        parallel(delayed(inner)(i) for i in range(2))


@pytest.mark.parametrize("backend", BACKENDS)
def test_progress_hook_object(backend):
    class Bar:
        def __init__(self):
            self.total = None
            self.n = 0
            self.closed = False

        def update(self, n):
            self.n += n

        def close(self):
            self.closed = True

    bar = Bar()
    n_jobs = 1 if backend == "sequential" else 2
    Parallel(n_jobs=n_jobs, backend=backend, progress=bar)(
        delayed(square)(i) for i in range(25)
    )
    assert (bar.n, bar.total, bar.closed) == (25, 25, True)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_progress_hook_callable(n_jobs):
    calls = []
    Parallel(n_jobs=n_jobs, progress=lambda done, total: calls.append((done, total)))(
        delayed(square)(i) for i in range(10)
    )
    assert calls[-1] == (10, 10)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_progress_hook_rejects_other_objects():
    with pytest.raises(TypeError, match="progress must be"):
        Parallel(progress=42)


def test_tqdm_progress_bar():
    tqdm = pytest.importorskip("tqdm").tqdm
    output = io.StringIO()  # an enabled bar (a disabled one ignores update())
    bar = tqdm(total=None, file=output)
    Parallel(n_jobs=2, progress=bar)(delayed(square)(i) for i in range(10))
    assert bar.n == 10
    assert bar.total == 10
    assert "10/10" in output.getvalue()


def test_verbose_goes_to_stdout_from_50(capsys):
    Parallel(n_jobs=1, verbose=50)(delayed(square)(i) for i in range(3))
    captured = capsys.readouterr()
    assert "Done   3 out of   3" in captured.out
    assert captured.err == ""


def test_parallel_config_thread_local_and_global():
    seen = {}

    def other_thread():
        seen["backend"] = type(Parallel()._backend).__name__

    with parallel_config(backend="threading", n_jobs=2):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert type(Parallel()._backend).__name__ == "ThreadingBackend"
    assert seen["backend"] == "ProcessBackend"
    parallel_config.set_global(backend="threading", n_jobs=2)
    try:
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert seen["backend"] == "ThreadingBackend"
        assert Parallel().n_jobs == 2
    finally:
        parallel_config.set_global()
    assert Parallel().n_jobs == 1


def test_every_parallel_config_option_is_applied():
    # parallel_config passes its keyword options on by the names of
    # _config.OPTION_NAMES: an option in the signature but not there would be
    # dropped silently, so the two must list the same names, and each one set
    # must reach the configuration in effect
    import inspect

    from joblet_parallel import _config

    keywords = [
        name
        for name, parameter in inspect.signature(parallel_config).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert keywords == list(_config.OPTION_NAMES)
    values = {
        "n_jobs": 3,
        "verbose": 7,
        "temp_folder": "/tmp",
        "max_nbytes": "2M",
        "mmap_mode": "r+",
        "prefer": "threads",
        "require": "sharedmem",
        "return_exceptions": True,
        "retries": 2,
        "retry_on": (OSError,),
        "task_timeout": 30.0,
    }
    assert set(values) | {"inner_max_num_threads"} == set(_config.OPTION_NAMES)
    with parallel_config(**values) as config:
        assert {name: config[name] for name in values} == values
    with parallel_config("loky", inner_max_num_threads=2) as config:
        assert config["backend"].inner_max_num_threads == 2


def test_prefer_and_require():
    assert type(Parallel(prefer="threads")._backend).__name__ == "ThreadingBackend"
    with parallel_config(backend="loky"):
        # An explicit choice beats the soft hint ...
        assert type(Parallel(prefer="threads")._backend).__name__ == "ProcessBackend"
        # ... but not the hard constraint.
        assert (
            type(Parallel(require="sharedmem")._backend).__name__ == "ThreadingBackend"
        )
    with pytest.raises(ValueError, match="prefer"):
        Parallel(prefer="gpu")


def test_verbose_from_config(capsys):
    with parallel_config(verbose=5):
        Parallel(n_jobs=1)(delayed(square)(i) for i in range(2))
    assert "Done" in capsys.readouterr().err


class CountingBackend(ParallelBackendBase):
    """A joblib-style backend: apply_async + callback(result)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def effective_n_jobs(self, n_jobs):
        return 2

    def apply_async(self, func, callback=None):
        self.calls += 1

        class Result:
            def __init__(self, value):
                self.value = value

            def get(self):
                return self.value

        result = Result(func())
        if callback is not None:
            callback(result.value)
        return result


def test_register_custom_backend_and_make_default():
    register_parallel_backend("counting", CountingBackend)
    with parallel_config(backend="counting") as config:
        assert Parallel()(delayed(square)(i) for i in range(5)) == [0, 1, 4, 9, 16]
        assert config["backend"].calls >= 1
    from joblet_parallel import _registry

    old = _registry.default_backend_name()
    register_parallel_backend("counting", CountingBackend, make_default=True)
    try:
        assert isinstance(Parallel()._backend, CountingBackend)
    finally:
        register_parallel_backend(
            "loky", _registry._builtin_factories()["loky"], make_default=True
        )
        assert old == "loky"


def test_custom_backend_errors_propagate():
    register_parallel_backend("counting", CountingBackend)

    def boom(x):
        raise ZeroDivisionError(x)

    with parallel_config(backend="counting"), pytest.raises(ZeroDivisionError):
        Parallel()(delayed(boom)(i) for i in range(3))


def test_unknown_backends(monkeypatch):
    import importlib.metadata

    # As if joblet-dask were not installed.
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kwargs: [])
    monkeypatch.delitem(joblet_parallel._registry._factories, "dask", raising=False)
    with pytest.raises(UnknownBackendError, match="pip install joblet-dask") as info:
        parallel_backend("dask")
    assert isinstance(info.value, KeyError)
    with pytest.raises(ValueError, match="unknown parallel backend 'nope'"):
        Parallel(backend="nope")


@pytest.mark.parametrize(
    ("typo", "meant"), [("lokky", "loky"), ("threads", "threading")]
)
def test_a_backend_typo_suggests_the_closest_name(typo, meant):
    with pytest.raises(UnknownBackendError) as info:
        Parallel(backend=typo)
    message = str(info.value)
    assert f"did you mean {meant!r}?" in message
    # plug-ins such as joblet-dask are listed when installed
    group = joblet_parallel._registry.ENTRY_POINT_GROUP
    for entry_point in importlib.metadata.entry_points(group=group):
        assert repr(entry_point.name) in message


def test_entry_point_backends_are_looked_up_at_call_time(monkeypatch):
    import importlib.metadata

    class FakeEntryPoint:
        name = "plugged"

        def load(self):
            return CountingBackend

    def fake_entry_points(group, name):
        assert group == "joblet.parallel_backends"
        return [FakeEntryPoint()] if name == "plugged" else []

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    with parallel_backend("plugged"):
        assert Parallel()(delayed(square)(i) for i in range(3)) == [0, 1, 4]


def test_cpu_count():
    count = cpu_count()
    assert 1 <= count <= (len(__import__("os").sched_getaffinity(0)))
    assert 1 <= cpu_count(only_physical_cores=True) <= count


def test_cpu_count_honours_environment(monkeypatch):
    monkeypatch.setenv("JOBLET_MAX_CPU_COUNT", "1")
    assert cpu_count() == 1


def test_delayed_is_cheap_and_a_decorator():
    assert delayed(sqrt) is delayed(sqrt)
    assert delayed(sqrt).__name__ == "sqrt"

    @delayed
    def add(a, b=0):
        return a + b

    assert add(1, b=2) == (add.__wrapped__, (1,), {"b": 2})


def test_pickling_error_names_argument_and_key():
    lock = threading.Lock()
    with pytest.raises(
        TaskPicklingError, match=r"argument 2 of delayed\(slow_square\)"
    ):
        Parallel(n_jobs=2)(delayed(slow_square)(1, 0, lock) for _ in range(1))
    with pytest.raises(TaskPicklingError, match="keyword argument 'model'") as info:
        Parallel(n_jobs=2)(delayed(slow_square)(1, model=lock) for _ in range(1))
    assert "lock" in str(info.value)


def test_import_is_lean():
    import subprocess

    code = (
        "import sys, joblet_parallel; "
        "heavy = {'numpy', 'cloudpickle', 'psutil', 'multiprocessing', 'concurrent.futures', 'subprocess'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert out.stdout.strip() == "[]", out.stderr
    assert "Parallel" in joblet_parallel.__all__


class JoblibStyleBackend(ParallelBackendBase):
    """Written as for joblib: apply_async, a future with get(), and a callback
    given the batch's results; here the callback runs a little after the result
    became visible (as concurrent.futures does), so Parallel may read it first."""

    supports_timeout = True

    def effective_n_jobs(self, n_jobs):
        return 2 if n_jobs in (None, -1) else n_jobs

    def configure(self, n_jobs=1, parallel=None, **backend_kwargs):
        from concurrent.futures import ThreadPoolExecutor

        self.parallel = parallel
        self._executor = ThreadPoolExecutor(2)
        return self.effective_n_jobs(n_jobs)

    def apply_async(self, func, callback=None):
        future = self._executor.submit(func)

        class AsyncResult:
            def get(self, timeout=None):
                return future.result(timeout)

        if callback is not None:

            def late_callback(done):
                time.sleep(0.01)
                if done.exception() is None:
                    callback(done.result())

            future.add_done_callback(late_callback)
        return AsyncResult()

    def terminate(self):
        self._executor.shutdown()


@pytest.mark.parametrize("return_as", ["list", "generator", "generator_unordered"])
def test_joblib_style_backend_results_are_counted_once(return_as):
    register_parallel_backend("joblib_style", JoblibStyleBackend)
    seen = []
    with parallel_config(backend="joblib_style", n_jobs=2):
        output = Parallel(
            batch_size=1,
            return_as=return_as,
            progress=lambda done, total: seen.append(done),
        )(delayed(square)(i) for i in range(20))
        results = list(output)
    assert sorted(results) == [i * i for i in range(20)]
    assert max(seen) == 20


def total_after_a_nap(array):
    time.sleep(0.005)
    return float(array.sum())


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_threads_sharing_a_global_backend_do_not_disturb_each_other(backend):
    # set_global hands one backend instance to every thread: a call ending in one
    # thread must not close the pool, or delete the memmapped arrays, of another.
    numpy = pytest.importorskip("numpy")
    errors = []

    def work(value):
        array = numpy.full(200_000, value, dtype="f8")  # above max_nbytes
        try:
            for _ in range(3):
                tasks = (delayed(total_after_a_nap)(array) for _ in range(12))
                assert Parallel()(tasks) == [array.sum()] * 12
        except Exception as error:  # pragma: no cover - the failure reported
            errors.append(error)

    parallel_config.set_global(backend=backend, n_jobs=2)
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        parallel_config.set_global()
    assert errors == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_jobs": "two"}, ValueError, "n_jobs could not be converted to int"),
        ({"n_jobs": 0.5}, ValueError, "n_jobs == 0"),
        ({"n_jobs": True}, TypeError, "n_jobs must be an int"),
        ({"verbose": "x"}, TypeError, "verbose must be an int"),
        ({"timeout": -1}, ValueError, "timeout must be > 0"),
        ({"timeout": "5"}, TypeError, "timeout must be a number"),
        ({"pre_dispatch": "-1"}, ValueError, "pre_dispatch must be"),
        ({"pre_dispatch": "3*n_job"}, ValueError, "pre_dispatch must be"),
        (
            {"pre_dispatch": -2.0},
            ValueError,
            "pre_dispatch must be 'all' or a number > 0",
        ),
        ({"batch_size": True}, ValueError, "batch_size must be"),
        ({"backend": 3}, TypeError, "backend must be a backend name"),
        ({"temp_folder": 3}, TypeError, "temp_folder must be a path"),
        ({"n_jobs": 2, "fooo": 1}, TypeError, "unexpected keyword arguments fooo"),
        (
            {"n_jobs": 2, "backend": "threading", "fooo": 1},
            TypeError,
            "unexpected keyword arguments fooo",
        ),
    ],
)
def test_bad_arguments_are_refused_with_advice(kwargs, error, match):
    # Refused even where the value would not be used (n_jobs=1 runs inline).
    with pytest.raises(error, match=match):
        Parallel(**kwargs)(delayed(square)(i) for i in range(3))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_jobs": "two"}, ValueError, "n_jobs could not be converted to int"),
        ({"verbose": "x"}, TypeError, "verbose must be an int"),
        ({"backend": 3}, TypeError, "backend must be a backend name"),
        ({"max_nbytes": "1X"}, ValueError, "max_nbytes must be"),
        ({"temp_folder": 3}, TypeError, "temp_folder must be a path"),
        ({"backend": "threading", "fooo": 1}, TypeError, "parameters fooo"),
        ({"backend": "loky", "fooo": 1}, TypeError, "parameters fooo"),
    ],
)
def test_bad_parallel_config_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match), parallel_config(**kwargs):
        pass


def test_an_error_in_a_result_callback_fails_the_call(monkeypatch):
    # Progress messages are printed from the thread that delivers results; a
    # stream failing there must fail the call, not leave it waiting forever.
    class FailsOutsideMainThread(io.StringIO):
        def write(self, text):
            if threading.current_thread() is not threading.main_thread():
                raise OSError("broken stream")
            return super().write(text)

    monkeypatch.setattr(sys, "stderr", FailsOutsideMainThread())
    tasks = (delayed(square)(i) for i in range(50))
    with pytest.raises(OSError, match="broken stream"):
        Parallel(n_jobs=2, backend="threading", verbose=20, timeout=20)(tasks)


@pytest.mark.parametrize("backend", ["loky", "multiprocessing"])
def test_batch_size_starts_small_again_on_the_next_call(backend):
    # Auto-batching grows batches for tiny tasks; a later call (maybe of slow
    # tasks) must not inherit that size, or its work lands on too few workers.
    parallel = Parallel(n_jobs=2, backend=backend)
    parallel(delayed(abs)(-i) for i in range(20_000))
    assert parallel._backend._effective_batch_size == 1


def test_misspelt_parallel_config_option_suggests_the_right_name():
    with pytest.raises(TypeError, match=r"'n_job' is not a parallel_config option"):
        parallel_config(n_job=2)
    with pytest.raises(TypeError, match=r"did you mean 'n_jobs'\?"):
        parallel_config(n_job=2)
    # the closeness rule of every lookup (joblet_hash.names), which also
    # catches slips on long names
    with pytest.raises(TypeError, match=r"did you mean 'inner_max_num_threads'\?"):
        parallel_config(threads=2)


@pytest.mark.parametrize(
    ("option", "value", "suggestion"),
    [
        ("prefer", "thread", "threads"),
        ("require", "shared", "sharedmem"),
        ("mmap_mode", "r++", "r+"),
        ("return_as", "generators", "generator"),
    ],
)
def test_a_wrong_choice_lists_the_valid_ones_and_the_closest(option, value, suggestion):
    expected = (
        rf"{option} must be one of .*; got {value!r} \(did you mean {suggestion!r}\?\)"
    )
    with pytest.raises(ValueError, match=expected.replace("+", r"\+")):
        Parallel(**{option: value})
    if option != "return_as":  # not a parallel_config setting
        with pytest.raises(ValueError, match=f"{option} must be one of"):
            parallel_config(**{option: value})


def test_inner_max_num_threads_without_a_backend_is_refused_not_dropped():
    # it limits the workers of one backend: with none named it did nothing
    with pytest.raises(ValueError, match="name the backend whose workers it limits"):
        parallel_config(inner_max_num_threads=1)
    with parallel_config("threading", inner_max_num_threads=1):
        pass


@pytest.mark.parametrize("backend", ["loky", "threading", "processes"])
def test_verbose_output_names_the_backend_as_written(backend, capsys):
    Parallel(n_jobs=2, backend=backend, verbose=1)(delayed(square)(i) for i in range(3))
    err = capsys.readouterr().err
    assert f"Using backend {backend!r} with 2 concurrent workers." in err
    with parallel_config(backend=backend, n_jobs=2):
        Parallel(verbose=1)(delayed(square)(i) for i in range(3))
    # Set by parallel_config, the class's registered name is shown.
    shown = "loky" if backend == "processes" else backend
    assert f"Using backend {shown!r}" in capsys.readouterr().err
