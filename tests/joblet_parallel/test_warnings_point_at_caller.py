"""Warnings of joblet-parallel point at the user's line, not inside the package."""

from __future__ import annotations

import warnings

import pytest

from joblet_parallel import Parallel, delayed
from joblet_parallel._backends import _multiprocessing

pytestmark = pytest.mark.timeout(60)


def test_the_nested_multiprocessing_warning_points_at_the_call(monkeypatch):
    # As inside a multiprocessing worker, where a pool cannot have children.
    monkeypatch.setattr(_multiprocessing, "_in_daemonic_process", lambda: True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = Parallel(n_jobs=2, backend="multiprocessing")(
            delayed(abs)(-i) for i in range(3)
        )
    assert out == [0, 1, 2]
    [warning] = [w for w in caught if "cannot be nested" in str(w.message)]
    assert warning.filename == __file__
