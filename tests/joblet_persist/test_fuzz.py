"""Damaged and crafted inputs: only documented errors, no crash, no blow-up, no wrong value.

Each family's mutations run in a child process with a memory limit and a
timeout (``_persist_fuzz.py``), so a crash, a blow-up or a hang fails the test.
The seeds are fixed: a failure reproduces, and its inputs are in the message.
A longer run: ``python tests/joblet_persist/_persist_fuzz.py --minutes N``.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from _persist_sandbox import MEMORY_LIMIT

pytest.importorskip("numpy")
pytest.importorskip("lz4")

FUZZER = pathlib.Path(__file__).with_name("_persist_fuzz.py")


def _run(family, seed, count):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_persist_fuzz_runner", FUZZER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run_child(family, seed, count, MEMORY_LIMIT, timeout=240)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("family", "seed", "count"),
    [
        ("joblet", 13, 3000),
        ("pickle", 11, 2000),
        ("joblib", 12, 1000),
        ("crafted", 14, 400),
    ],
)
def test_mutations_find_nothing(family, seed, count):
    if family == "joblib":
        pytest.importorskip("joblib")
    result = _run(family, seed, count)
    assert result["findings"] == {}, json.dumps(result["findings"], indent=1)[:6000]
    assert result["mutations"] == count
    assert result["loaded"] > 0  # the valid samples, at least, load


def test_the_harness_finds_what_it_looks_for(tmp_path):
    """Each check can fail: a wrong value, an undocumented error, a missing global."""
    import importlib.util
    import io
    import pickle
    import types

    spec = importlib.util.spec_from_file_location("_persist_fuzz_checks", FUZZER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checker = module._Checker(str(tmp_path))
    data = pickle.dumps([1, 2], 2)
    checker.check("list", data, True, [1, 3])  # loads [1, 2]: not the original
    assert "wrong value" in checker.found
    real = checker.jp
    checker.jp = types.SimpleNamespace(
        FormatError=real.FormatError,
        RESTRICTED_FLOOR=real.RESTRICTED_FLOOR,
        RESTRICTED_RATIO=real.RESTRICTED_RATIO,
        inspect_file=real.inspect_file,
        loads=lambda data, **kwargs: io.BytesIO().getbuffer()[5],  # IndexError
    )
    checker.check("broken", data, False, None)
    assert any(kind.startswith("undocumented") for kind in checker.found)
    checker._inspect("names", data, ["os.system"])  # imported, not listed
    assert "a global load imports that inspect does not list" in checker.found
