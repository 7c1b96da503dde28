"""Every Memory example of joblib 0.13's documentation (sections 1.2, 2.3, 2.6, 3.1), with joblet_memory."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
import time
import warnings

import pytest

from joblet_memory import (
    JobletCollisionWarning,
    MemorizedFunc,
    MemorizedResult,
    Memory,
    NotMemorizedResult,
)


def test_use_case_f(tmp_path, capsys):
    memory = Memory(tmp_path, verbose=0)

    @memory.cache
    def f(x):
        print(f"Running f({x})")
        return x

    print(f(1))
    print(f(1))
    print(f(2))
    assert capsys.readouterr().out == "Running f(1)\n1\n1\nRunning f(2)\n2\n"


def test_main_features_square_verbose(tmp_path, capsys):
    np = pytest.importorskip("numpy")
    mem = Memory(str(tmp_path))
    a = np.vander(np.arange(3)).astype(float)
    square = mem.cache(np.square)
    b = square(a)
    out = capsys.readouterr().out
    assert "[Memory] Calling square...\nsquare(array([[0., 0., 1.],\n" in out
    assert re.search(r"\n_+square - \d+\.\ds, 0\.0min\n$", out)
    assert len(out.splitlines()[-1]) == 80
    c = square(a)
    assert (
        capsys.readouterr().out == ""
    )  # the second call did not trigger an evaluation
    np.testing.assert_array_equal(b, c)


def test_numpy_g_and_h(tmp_path, capsys):
    np = pytest.importorskip("numpy")
    memory = Memory(tmp_path, verbose=0)

    @memory.cache
    def g(x):
        print(f"A long-running calculation, with parameter {x}")
        return np.hamming(x)

    @memory.cache
    def h(x):
        print("A second long-running calculation, using g(x)")
        return np.vander(x)

    a = g(3)
    np.testing.assert_allclose(a, [0.08, 1.0, 0.08])
    g(3)
    b = h(a)
    b2 = h(a)
    assert np.allclose(b, b2)
    assert capsys.readouterr().out == (
        "A long-running calculation, with parameter 3\n"
        "A second long-running calculation, using g(x)\n"
    )

    result = g.call_and_shelve(4)
    assert capsys.readouterr().out == "A long-running calculation, with parameter 4\n"
    assert re.fullmatch(
        r'MemorizedResult\(location=".+", func=".*g", args_id="[0-9a-f]{32}"\)',
        repr(result),
    )
    np.testing.assert_allclose(result.get(), [0.08, 0.77, 0.77, 0.08])
    result.clear()
    with pytest.raises(KeyError, match="Non-existing cache value"):
        result.get()


def test_memmapping_square(tmp_path, capsys):
    np = pytest.importorskip("numpy")
    memory2 = Memory(tmp_path, mmap_mode="r")
    square = memory2.cache(np.square)
    a = np.vander(np.arange(3)).astype(float)
    first = square(a)
    assert isinstance(first, np.memmap)  # already on the first call
    assert "[Memory] Calling square..." in capsys.readouterr().out
    res = square(a)
    assert isinstance(res, np.memmap)
    assert repr(res).startswith("memmap([[ 0.,  0.,  1.],")
    with pytest.raises(ValueError, match="read-only"):
        res[0, 0] = 1
    del res, first


def test_shelving_without_cache():
    memory = Memory(None)

    @memory.cache
    def g(x):
        return x * 2

    result = g.call_and_shelve(4)
    assert isinstance(result, NotMemorizedResult)
    assert result.get() == 8
    again = pickle.loads(pickle.dumps(result))
    assert again.get() == 8
    result.clear()
    with pytest.raises(KeyError):
        result.get()


def test_memorized_result_repr_pastes_into_another_interpreter(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    result = memory.cache(_double).call_and_shelve(21)
    code = f"from joblet_memory import MemorizedResult\nprint({result!r}.get())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "42"


def _double(x):
    return 2 * x


def test_memorized_result_repr_pastes_with_quotes_and_backslashes(tmp_path):
    # a Windows path (C:\\Users) or a quote must not break the pasted literal
    location = tmp_path / 'we"ird \\Users dir'
    result = Memory(location, verbose=0).cache(_double).call_and_shelve(4)
    from joblet_memory import MemorizedResult

    pasted = eval(repr(result), {"MemorizedResult": MemorizedResult})
    assert pasted.location == str(location)
    assert pasted.get() == 8
    assert repr(result).startswith('MemorizedResult(location="')


def test_name_collisions_in_one_session(tmp_path, capsys):
    memory = Memory(tmp_path, verbose=0)
    namespace: dict = {"memory": memory}
    exec(
        "@memory.cache\ndef func(x):\n    print('Running func(%s)' % x)\n",
        namespace,
    )
    func2 = namespace["func"]
    exec(
        "\n\n@memory.cache\ndef func(x):\n    print('Running a different func(%s)' % x)\n",
        namespace,
    )
    func = namespace["func"]
    func(1)
    with pytest.warns(JobletCollisionWarning, match="Possible name collisions"):
        func2(1)
    func(1)  # no recomputation so far
    func2(1)
    assert capsys.readouterr().out == "Running a different func(1)\nRunning func(1)\n"


def test_lambdas_are_kept_apart_and_warn(tmp_path, capsys):
    memory = Memory(tmp_path, verbose=0)

    def my_print(x):
        print(x)

    f = memory.cache(lambda: my_print(1))
    g = memory.cache(lambda: my_print(2))
    f()
    f()
    with pytest.warns(
        JobletCollisionWarning,
        match="Cannot detect name collisions for function '.*<lambda>'",
    ):
        g()
    g()
    f()
    assert capsys.readouterr().out == "1\n2\n"


def test_ufuncs_builtins_and_partials(tmp_path):
    np = pytest.importorskip("numpy")
    memory = Memory(tmp_path, verbose=0)
    sin = memory.cache(np.sin)
    assert sin(0) == 0.0
    assert sin.check_call_in_cache(0)
    cached_len = memory.cache(len)
    assert cached_len([1, 2, 3]) == 3
    assert cached_len.check_call_in_cache([1, 2, 3])


def test_partial_arguments_are_part_of_the_key(tmp_path):
    import functools

    memory = Memory(tmp_path, verbose=0)
    add2 = memory.cache(functools.partial(_add, 2))
    add3 = memory.cache(functools.partial(_add, 3))
    assert add2(1) == 3
    assert add3(1) == 4
    assert add2.check_call_in_cache(1)
    assert add3.check_call_in_cache(1)


def _add(a, b):
    return a + b


def test_method_decorated_at_instantiation(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    calls = []

    class Foo:
        def __init__(self, arg):
            self.arg = arg
            self.method = memory.cache(self.method)

        def method(self, x):
            calls.append(x)
            return self.arg + x

        def __joblet_fingerprint__(self):
            return {"arg": self.arg}

    assert Foo(1).method(2) == 3
    assert Foo(1).method(2) == 3  # another instance, same parameters: a hit
    assert Foo(5).method(2) == 7
    assert calls == [2, 2]


def test_method_ignoring_self(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    calls = []

    class Foo:
        def __init__(self):
            self.method = memory.cache(self.method, ignore=["self"])

        def method(self, x):
            calls.append(x)
            return x

    Foo().method(1)
    Foo().method(1)
    assert calls == [1]


def test_ignore_debug(tmp_path, capsys):
    memory = Memory(tmp_path, verbose=0)

    @memory.cache(ignore=["debug"])
    def my_func(x, debug=True):
        print(f"Called with x = {x}")

    my_func(0)
    my_func(0, debug=False)
    my_func(0, debug=True)
    assert capsys.readouterr().out == "Called with x = 0\n"


def test_costly_compute_algorithm_example(tmp_path):
    np = pytest.importorskip("numpy")
    location = tmp_path / "cachedir"
    memory = Memory(location, verbose=0)
    calls = []

    def _costly_compute_cached(data, column):
        calls.append(column)
        return data[column]

    class Algorithm:
        def __init__(self, column=0):
            self.column = column

        def transform(self, data):
            costly_compute = memory.cache(_costly_compute_cached)
            return costly_compute(data, self.column)

    rng = np.random.RandomState(42)
    data = rng.randn(int(1e3), 10)
    transformer = Algorithm()
    first = transformer.transform(data)
    start = time.perf_counter()
    second = transformer.transform(data)
    assert time.perf_counter() - start < 5
    np.testing.assert_array_equal(first, second)
    assert calls == [0]
    memory.clear(warn=False)
    assert not any((location / "joblet").glob("*/*"))


def test_memory_eval_and_reference_api(tmp_path):
    memory = Memory(
        location=tmp_path,
        backend="local",
        mmap_mode=None,
        compress=False,
        verbose=0,
        bytes_limit=None,
        backend_options=None,
    )
    assert memory.eval(_add, 1, b=2) == 3
    assert memory.cache(_add).check_call_in_cache(1, 2)
    decorated = memory.cache(_add)
    assert isinstance(decorated, MemorizedFunc)
    assert decorated.func is _add
    output, metadata = decorated.call(1, 2)
    assert output == 3
    assert metadata["input_args"] == {"a": "1", "b": "2"}
    assert Memory(None).eval(_add, 1, 2) == 3


def test_checkpoint_with_parallel_workers(tmp_path):
    """The Parallel example's pattern: cached calls from worker processes."""
    import concurrent.futures
    import multiprocessing

    memory = Memory(tmp_path, verbose=0)
    cached = memory.cache(_double)
    # Not fork: the test process has threads, and forking it can deadlock.
    context = multiprocessing.get_context(
        "forkserver" if sys.platform == "linux" else "spawn"
    )
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        assert list(pool.map(cached, range(4))) == [0, 2, 4, 6]
    assert all(cached.check_call_in_cache(i) for i in range(4))


def test_verbose_zero_prints_nothing(tmp_path, capsys, caplog):
    memory = Memory(tmp_path, verbose=0)
    cached = memory.cache(_double)
    cached(1)
    cached(1)
    memory.cache(_double, verbose=0).clear()
    cached.call_and_shelve(2).get()
    memory.clear()
    assert capsys.readouterr() == ("", "")
    assert caplog.records == []  # nothing logged (stderr outside pytest)
    Memory(tmp_path, verbose=1).clear()
    assert "Flushing completely the cache" in caplog.text


def test_verbose_loading_messages(tmp_path, capsys):
    memory = Memory(tmp_path, verbose=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cached = memory.cache(_double)
        cached(3)
    capsys.readouterr()
    cached(3)
    out = capsys.readouterr().out
    assert "[Memory] Loading _double from" in out
    assert "_double cache loaded - " in out


def test_memorized_result_isinstance(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    assert isinstance(memory.cache(_double).call_and_shelve(1), MemorizedResult)
