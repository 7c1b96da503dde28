"""Suite-wide pytest settings. Standard library and pytest only: every
distribution's isolated run loads this file, whatever else is installed."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from pathlib import Path

import pytest


def _load_shared_helpers() -> None:
    """Make ``tests/_helpers.py`` importable as ``joblet_test_helpers``."""
    spec = importlib.util.spec_from_file_location(
        "joblet_test_helpers", Path(__file__).with_name("_helpers.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["joblet_test_helpers"] = module
    spec.loader.exec_module(module)


_load_shared_helpers()

# Modules that some tests skip without. The full ``nox -s tests`` session sets
# JOBLET_TEST_REQUIRE_OPTIONAL=1 so that a missing one fails the run instead of
# skipping green; isolated runs leave it unset and skip.
OPTIONAL_MODULES = (
    "numpy",
    "lz4",
    "joblib",
    "hypothesis",
    "tqdm",
    "distributed",
    "sklearn",
    "pandas",
    "pyarrow",
    "s3fs",
)


def pytest_sessionstart(session: pytest.Session) -> None:
    _let_ctrl_c_reach_child_interpreters()
    if os.environ.get("JOBLET_TEST_REQUIRE_OPTIONAL") != "1":
        return
    missing = [
        name for name in OPTIONAL_MODULES if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise pytest.UsageError(
            f"JOBLET_TEST_REQUIRE_OPTIONAL=1 but {', '.join(missing)} cannot be "
            "imported; install them (nox -s tests does) or unset the variable"
        )


def _let_ctrl_c_reach_child_interpreters() -> None:
    """Deliver SIGINT again if the run was started with it ignored.

    A background job of a non-interactive shell (``cmd &`` in a script) starts
    with SIGINT ignored, every process it starts inherits that, and a Python
    interpreter started so never sees a Ctrl-C: the tests that interrupt a
    child interpreter would wait for it forever. Python's own handler, set
    here, is reset to the default in each child at exec.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
