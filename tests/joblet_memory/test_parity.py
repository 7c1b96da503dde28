"""joblib 1.6 parity: async functions, a file as location, unhashable arguments;
third-party code and distribution versions; a damaged entry warns once."""

from __future__ import annotations

import asyncio
import importlib
import logging
import subprocess
import sys
import textwrap
import uuid
import warnings

import pytest

from joblet_hash import UnhashableObjectError
from joblet_memory import AsyncMemorizedFunc, CacheWarning, Memory, _deps


@pytest.mark.timeout(60)
def test_async_function_hit_does_not_run_the_body(tmp_path):
    runs = []
    memory = Memory(tmp_path, verbose=0)

    @memory.cache
    async def fetch(x):
        runs.append(x)
        await asyncio.sleep(0)
        return x * 2

    assert isinstance(fetch, AsyncMemorizedFunc)
    assert asyncio.run(fetch(3)) == 6
    assert asyncio.run(fetch(3)) == 6
    assert runs == [3]
    assert fetch.check_call_in_cache(3)
    assert fetch.cache_info().hits == 1
    value, metadata = asyncio.run(fetch.call(3))
    assert value == 6
    assert metadata is not None
    assert runs == [3, 3]
    shelved = asyncio.run(fetch.call_and_shelve(4))
    assert shelved.get() == 8


@pytest.mark.timeout(60)
def test_async_function_without_location():
    @Memory(None).cache
    async def double(x):
        return 2 * x

    assert asyncio.run(double(2)) == 4


@pytest.mark.timeout(60)
def test_async_matches_joblib(tmp_path):
    joblib = pytest.importorskip("joblib")
    runs = []

    async def body(x):
        runs.append(x)
        return x + 1

    theirs = joblib.Memory(tmp_path / "joblib", verbose=0).cache(body)
    ours = Memory(tmp_path / "joblet", verbose=0).cache(body)
    results = [asyncio.run(f(1)) for f in (theirs, theirs, ours, ours)]
    assert results == [2, 2, 2, 2]
    assert runs == [1, 1]  # each library ran the body once


@pytest.mark.parametrize("as_path", [False, True])
def test_a_file_as_location_is_refused_at_construction(tmp_path, as_path):
    path = tmp_path / "results.txt"
    path.write_text("not a folder")
    with pytest.raises(ValueError, match="is an existing file, not a folder"):
        Memory(path if as_path else str(path))


def test_an_unhashable_argument_is_named_with_the_fix(tmp_path):
    @Memory(tmp_path, verbose=0).cache
    def count_lines(name, handle):
        return len(handle.readlines())

    with open(__file__) as handle, pytest.raises(UnhashableObjectError) as caught:
        count_lines("me", handle)
    message = str(caught.value)
    assert "'handle'" in message
    assert "count_lines" in message
    assert "ignore=['handle']" in message
    assert isinstance(caught.value, TypeError)


def test_a_damaged_entry_warns_once_per_call(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(abs)
    cached(-3)
    output = cached.store_backend.output_path(cached._call_id((-3,), {}))
    with open(output, "r+b") as handle:
        handle.truncate(8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cached(-3) == 3
    assert [type(w.message) for w in caught] == [CacheWarning]
    assert cached(-3) == 3  # rewritten


# -- third-party code --------------------------------------------------------------

LIBRARY = """
def transform(x):
    return x + {offset}
"""

USER = """
import {library}


def pipeline(x):
    return {library}.transform(x)
"""


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A module in a folder named site-packages, with distribution metadata."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    name = f"fakelib_{uuid.uuid4().hex[:8]}"
    site = tmp_path / "venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    user = tmp_path / "project"
    user.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(user))

    def install(offset: int, version: str):
        (site / f"{name}.py").write_text(LIBRARY.format(offset=offset))
        for old in site.glob("*.dist-info"):
            for file in old.iterdir():
                file.unlink()
            old.rmdir()
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        (info / "top_level.txt").write_text(name + "\n")
        (user / f"user_{name}.py").write_text(USER.format(library=name))
        for module in (name, f"user_{name}"):
            sys.modules.pop(module, None)
        importlib.invalidate_caches()
        _deps._distributions_by_module.cache_clear()
        return importlib.import_module(f"user_{name}").pipeline

    yield install
    for module in (name, f"user_{name}"):
        sys.modules.pop(module, None)
    _deps._distributions_by_module.cache_clear()


def test_a_change_in_site_packages_does_not_invalidate(tmp_path, installed):
    memory = Memory(tmp_path / "cache", verbose=0)
    assert memory.cache(installed(1, "1.0"))(1) == 2
    upgraded = memory.cache(installed(5, "1.0"))
    assert upgraded.check_call_in_cache(1)
    assert upgraded(1) == 2  # third-party code is not followed
    record = upgraded._ensure_checked()
    (dist,) = [d for d in record.dependencies.values() if d.kind == "distribution"]
    assert dist.digest is None
    assert "not tracked" in dist.detail


@pytest.mark.parametrize("where", ["memory", "function"])
def test_track_versions_invalidates_on_upgrade(tmp_path, installed, where):
    memory = Memory(tmp_path / "cache", verbose=0, track_versions=where == "memory")
    options = {"track_versions": True} if where == "function" else {}
    assert memory.cache(installed(1, "1.0"), **options)(1) == 2
    same_version = memory.cache(installed(1, "1.0"), **options)
    assert same_version.check_call_in_cache(1)
    upgraded = memory.cache(installed(5, "2.0"), **options)
    explanation = upgraded.explain(1)
    assert explanation.reason == "version changed"
    assert any("1.0 -> 2.0" in line for line in explanation.details)
    assert upgraded(1) == 6


def test_numpy_is_recorded_as_a_distribution(tmp_path):
    np = pytest.importorskip("numpy")
    code = textwrap.dedent(
        """
        import numpy as np

        def norm(x):
            return float(np.sqrt(np.sum(np.asarray(x) ** 2)))
        """
    )
    namespace: dict = {"__name__": "typed_at_a_prompt"}
    exec(compile(code, "<prompt>", "exec"), namespace)
    cached = Memory(tmp_path, verbose=0, track_versions=True).cache(namespace["norm"])
    assert cached([3, 4]) == 5.0
    deps = cached._ensure_checked().dependencies
    assert deps["numpy"].detail == np.__version__
    assert deps["numpy"].digest is not None


def test_without_track_versions_no_distribution_metadata_is_read(
    tmp_path, installed, monkeypatch
):
    import importlib.metadata

    def refuse(*args, **kwargs):
        raise AssertionError("distribution metadata read without track_versions")

    pipeline = installed(1, "1.0")
    monkeypatch.setattr(importlib.metadata, "version", refuse)
    monkeypatch.setattr(importlib.metadata, "packages_distributions", refuse)
    assert Memory(tmp_path, verbose=0).cache(pipeline)(1) == 2


def kwonly(a, b, *, kw1, kw2="kw2"):
    return a, b, kw1, kw2


@pytest.mark.parametrize("library", ["joblet", "joblib"])
def test_call_and_store_errors_are_caught_as_in_joblib(tmp_path, library):
    """Code written against joblib's errors catches joblet's (side by side)."""
    memory_class = (
        Memory if library == "joblet" else pytest.importorskip("joblib").Memory
    )
    cached = memory_class(tmp_path / "a", verbose=0).cache(kwonly)
    assert cached(1, 2, kw1=3) == (1, 2, 3, "kw2")
    with pytest.raises(ValueError, match=r"(?i)too many"):  # joblib's type
        cached(1, 2, 3, kw2=4)
    with pytest.raises(TypeError, match="nope"):  # joblib's type, unknown backend
        memory_class(tmp_path / "b", backend="nope")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joblet warns; both go on
        ignoring = memory_class(tmp_path / "c", backend_options={"nope": 1}, verbose=0)
    assert ignoring.cache(abs)(-2) == 2


@pytest.mark.thread_unsafe  # caplog is not thread-safe
@pytest.mark.parametrize("library", ["joblet", "joblib"])
def test_verbose_20_logs_each_query_as_joblib_does(tmp_path, caplog, library):
    """joblib 1.6 logs 'Querying <name> ...' at INFO from verbose=20 (side by side)."""
    memory_class = (
        Memory if library == "joblet" else pytest.importorskip("joblib").Memory
    )
    caplog.set_level(logging.INFO)
    memory_class(tmp_path, verbose=20).cache(kwonly)(1, 2, kw1=3)
    assert "Querying kwonly" in caplog.text
    caplog.clear()
    memory_class(tmp_path, verbose=10).cache(kwonly)(1, 2, kw1=3)
    assert "Querying" not in caplog.text


@pytest.mark.thread_unsafe  # caplog is not thread-safe
def test_verbose_20_logs_the_queries_of_async_functions_too(tmp_path, caplog):
    async def double(x):
        return 2 * x

    caplog.set_level(logging.INFO)
    cached = Memory(tmp_path, verbose=20).cache(double)
    assert asyncio.run(cached(3)) == 6
    assert "Querying" in caplog.text
    assert "double(3)" in caplog.text
    caplog.clear()
    assert asyncio.run(cached.call_and_shelve(4)).get() == 8
    assert "double(4)" in caplog.text


def test_verbose_20_prints_the_query_when_logging_is_not_set_up(tmp_path):
    # A fresh interpreter: pytest itself sets up logging in this one.
    script = textwrap.dedent(
        f"""
        from joblet_memory import Memory

        def kwonly(a, b, *, kw1):
            return a + b + kw1

        Memory({str(tmp_path)!r}, verbose=20).cache(kwonly)(1, 2, kw1=3)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "[Memory] Querying kwonly with signature kwonly(1, 2, kw1=3)" in done.stdout
    assert str(tmp_path) in done.stdout  # the store location
    assert "Querying" not in done.stderr


@pytest.mark.parametrize("library", ["joblet", "joblib"])
def test_a_bad_validation_callback_fails_at_the_decorator(tmp_path, library):
    memory_class = (
        Memory if library == "joblet" else pytest.importorskip("joblib").Memory
    )
    memory = memory_class(tmp_path, verbose=0)
    with pytest.raises(
        ValueError, match="cache_validation_callback needs to be callable"
    ):
        memory.cache(cache_validation_callback=True)
    with pytest.raises(
        ValueError, match="cache_validation_callback needs to be callable"
    ):
        memory.cache(kwonly, cache_validation_callback=True)


def test_the_decorator_form_checks_its_options_at_once(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    with pytest.raises(TypeError, match="ignore must be a list"):
        memory.cache(ignore="a")
    with pytest.raises(ValueError, match="mmap_mode must be one of"):
        memory.cache(mmap_mode="rw")


def test_a_wrong_call_is_a_type_error_too(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(kwonly)
    with pytest.raises(TypeError, match="too many positional arguments"):
        cached(1, 2, 3, kw2=4)
