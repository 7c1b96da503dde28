"""Helpers of the joblet-persist tests, importable by name (``_persist_sandbox``)."""

from __future__ import annotations

import pathlib

from joblet_test_helpers import load_helper

load_helper(pathlib.Path(__file__).with_name("_persist_sandbox.py"))
