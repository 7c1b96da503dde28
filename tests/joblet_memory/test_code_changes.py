"""Which edits of a function's source keep its cache, and which invalidate it."""

from __future__ import annotations

import linecache
import sys
import textwrap
import uuid

import pytest
from joblet_test_helpers import load_helper

from joblet_memory import Memory

ORIGINAL = '''
import os


def compute(x, y=2):
    """Add things."""
    total = x + y
    return total * 3
'''

# Edits that compile to the same code: the cache is kept.
COSMETIC = {
    "comment": ORIGINAL.replace(
        "    total = x + y\n", "    # sum first\n    total = x + y  # inline\n"
    ),
    "blank lines": ORIGINAL.replace("    total = x + y\n", "\n    total = x + y\n\n"),
    "spacing": ORIGINAL.replace("total * 3", "total*3"),
    "moved down": "\n\ndef other():\n    return 1\n\n" + ORIGINAL,
    "indented": ORIGINAL.replace("\ndef compute", "\nif True:\n    def compute")
    .replace("\n    ", "\n        ")
    .replace("\n        def compute", "\n    def compute"),
    "split line": ORIGINAL.replace("total = x + y", "total = (x\n             + y)"),
}

# Edits that change behaviour (or could): the cache is invalidated.
SEMANTIC = {
    "constant": ORIGINAL.replace("total * 3", "total * 4"),
    "operator": ORIGINAL.replace("x + y", "x - y"),
    "docstring": ORIGINAL.replace("Add things.", "Add things up."),
    "renamed local": ORIGINAL.replace("total", "result"),
    "called name": ORIGINAL.replace("return total * 3", "return abs(total * 3)"),
}


def _load(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    linecache.checkcache(str(path))
    return load_helper(path, name)


@pytest.fixture
def module_name():
    name = f"edited_{uuid.uuid4().hex[:8]}"
    yield name
    sys.modules.pop(name, None)


def _cached_after_edit(tmp_path, module_name, edited):
    memory = Memory(tmp_path / "cache", verbose=0)
    first = memory.cache(_load(tmp_path, module_name, ORIGINAL).compute)
    assert first(1) == 9
    second = memory.cache(_load(tmp_path, module_name, edited).compute)
    return second.check_call_in_cache(1)


@pytest.mark.parametrize("edit", sorted(COSMETIC))
def test_cosmetic_edits_keep_the_cache(tmp_path, module_name, edit):
    assert _cached_after_edit(tmp_path, module_name, COSMETIC[edit])


@pytest.mark.parametrize("edit", sorted(SEMANTIC))
def test_semantic_edits_invalidate(tmp_path, module_name, edit):
    assert not _cached_after_edit(tmp_path, module_name, SEMANTIC[edit])


def test_an_edit_never_returns_old_results_and_removes_them(tmp_path, module_name):
    memory = Memory(tmp_path / "cache", verbose=0)
    old = memory.cache(_load(tmp_path, module_name, ORIGINAL).compute)
    assert old(1) == 9
    assert len(old.store_backend.get_items(old.func_id)) == 1
    new = memory.cache(_load(tmp_path, module_name, SEMANTIC["constant"]).compute)
    assert new(1) == 12
    # the old entry was removed when the change was seen
    assert len(new.store_backend.get_items(new.func_id)) == 1


def test_default_value_change_gives_a_new_key(tmp_path, module_name):
    edited = ORIGINAL.replace("y=2", "y=3")
    memory = Memory(tmp_path / "cache", verbose=0)
    memory.cache(_load(tmp_path, module_name, ORIGINAL).compute)(1)
    assert memory.cache(_load(tmp_path, module_name, edited).compute)(1) == 12


def test_edit_seen_by_a_fresh_interpreter(tmp_path):
    import subprocess

    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        from joblet_memory import Memory
        import fresh_mod
        f = Memory(sys.argv[2], verbose=0).cache(fresh_mod.compute)
        print(f.check_call_in_cache(1), f(1))
        """
    )

    def run():
        return subprocess.run(
            [sys.executable, "-c", script, str(tmp_path), str(tmp_path / "cache")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()

    (tmp_path / "fresh_mod.py").write_text(ORIGINAL)
    assert run() == ["False", "9"]
    assert run() == ["True", "9"]  # a second interpreter reuses the cache
    (tmp_path / "fresh_mod.py").write_text(COSMETIC["comment"])
    assert run() == ["True", "9"]
    (tmp_path / "fresh_mod.py").write_text(SEMANTIC["operator"])
    assert run() == ["False", "-3"]
