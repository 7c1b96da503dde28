"""Helpers of the joblet-persist tests, importable by name.

``_persist_sandbox`` (limited children) and ``_persist_crafted`` (crafted inputs).
"""

from __future__ import annotations

import pathlib

import pytest
from joblet_test_helpers import load_helper

load_helper(pathlib.Path(__file__).with_name("_persist_sandbox.py"))
load_helper(pathlib.Path(__file__).with_name("_persist_crafted.py"))


@pytest.fixture
def decoded(monkeypatch):
    """The sizes of the units ``DecodedStream`` decodes on its threads."""
    from joblet_persist._compression.streams import DecodedStream

    sizes = []
    original = DecodedStream._decode

    def counting(self, unit):
        sizes.append(len(unit.data))
        return original(self, unit)

    monkeypatch.setattr(DecodedStream, "_decode", counting)
    return sizes
