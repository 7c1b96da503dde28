"""Helpers of the joblet-persist tests, importable by name (``_persist_sandbox``)."""

from __future__ import annotations

import importlib.util
import pathlib
import sys


def _load_helper(name: str) -> None:
    # Tests are imported in importlib mode: load the helper module by its path.
    spec = importlib.util.spec_from_file_location(
        name, pathlib.Path(__file__).with_name(f"{name}.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


_load_helper("_persist_sandbox")
