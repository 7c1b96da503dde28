"""Edits inside a running interpreter: IPython's %autoreload, re-bound names.

``%autoreload 2`` replaces the ``__code__`` of every function of an edited
module in place and re-binds the module's names; a cached function must see
that at its next call, never serve the result of the old code.
"""

from __future__ import annotations

import types
import warnings

import pytest

from joblet_memory import CacheWarning, JobletCollisionWarning, Memory
from joblet_memory._dep_values import MAX_STATE_ITEMS

calls: list[int] = []
FACTOR = 2
BIG = list(range(MAX_STATE_ITEMS + 10))


def helper(x):
    return x * 2


def target(x):
    calls.append(x)
    return helper(x) + FACTOR


def uses_big(x):
    return len(BIG) + x


def swap_code(func: types.FunctionType, source: str) -> None:
    """Give ``func`` the code of ``source``'s function, as %autoreload does."""
    namespace: dict[str, object] = {}
    exec(compile(source, __file__, "exec"), func.__globals__, namespace)
    [new] = namespace.values()
    func.__code__ = new.__code__  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _restore():
    saved = (target.__code__, helper.__code__, FACTOR)
    yield
    target.__code__, helper.__code__ = saved[:2]
    globals()["FACTOR"] = saved[2]


def test_the_functions_own_code_swapped_in_place(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(target)
    assert cached(1) == 4
    swap_code(target, "def target(x):\n    calls.append(x)\n    return 100 + x\n")
    # This file still holds the old code where target was: joblib's rule (and
    # ours) calls that a possible name collision. A real %autoreload edits the
    # file, and then it is not one.
    with pytest.warns(JobletCollisionWarning, match="Possible name collisions"):
        assert cached(1) == 101
    # a new wrapper of the same function object sees the new code too
    assert Memory(tmp_path, verbose=0).cache(target)(1) == 101


def test_a_helpers_code_swapped_in_place(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(target)
    assert cached(1) == 4
    swap_code(helper, "def helper(x):\n    return x * 10\n")
    assert cached(1) == 12


def test_a_module_name_re_bound(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(target)
    assert cached(1) == 4
    globals()["FACTOR"] = 5
    assert cached(1) == 7


def test_unchanged_code_still_hits(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(target)
    calls.clear()
    cached(1), cached(1), cached(1)
    assert calls == [1]


def test_data_too_large_to_track_warns_once(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(uses_big)
    with pytest.warns(CacheWarning, match="BIG.*does not track|does not track.*BIG"):
        cached(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached(1)
        Memory(tmp_path / "other", verbose=0).cache(uses_big)(2)
    why = cached.explain(1)
    assert "not tracked" in str(why)
