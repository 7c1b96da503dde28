"""python -m joblet_memory LOCATION list/show/prune/clear."""

from __future__ import annotations

import subprocess
import sys

import pytest

from joblet_memory import Memory
from joblet_memory.__main__ import main


def half(x):
    return x / 2


def twice(x):
    return [x] * 1000


@pytest.fixture
def cache(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    for i in range(3):
        memory.cache(half)(i)
    memory.cache(twice)(1)
    return tmp_path


def test_list(cache, capsys):
    assert main([str(cache), "list"]) == 0
    out = capsys.readouterr().out
    assert "/half" in out
    assert "/twice" in out
    assert out.splitlines()[-1].split()[:2] == ["total", "4"]


def test_show(cache, capsys):
    assert main([str(cache), "show", "half"]) == 0
    out = capsys.readouterr().out
    assert "3 entries" in out
    assert "x = 2" in out
    assert "computed" in out
    assert "last access" in out


def test_prune_by_count(cache, capsys):
    assert main([str(cache), "prune", "--items", "2", "--dry-run"]) == 0
    assert "would remove 2 entries" in capsys.readouterr().out
    assert len(Memory(cache).store_backend.get_items()) == 4
    assert main([str(cache), "prune", "--items", "2"]) == 0
    assert len(Memory(cache).store_backend.get_items()) == 2


def test_prune_by_size_and_age(cache, capsys):
    assert main([str(cache), "prune", "--age", "1d"]) == 0
    assert len(Memory(cache).store_backend.get_items()) == 4
    assert main([str(cache), "prune", "--bytes", "0"]) == 0
    assert Memory(cache).store_backend.get_items() == []


def test_clear_function_and_all(cache, capsys):
    assert main([str(cache), "clear", "twice"]) == 0
    assert "cleared" in capsys.readouterr().out
    memory = Memory(cache, verbose=0)
    assert not memory.cache(twice).check_call_in_cache(1)
    assert memory.cache(half).check_call_in_cache(1)
    assert main([str(cache), "clear", "--all"]) == 0
    assert memory.store_backend.get_items() == []


def test_errors(cache, tmp_path):
    with pytest.raises(SystemExit, match="no cached function"):
        main([str(cache), "show", "nothing"])
    with pytest.raises(SystemExit, match="holds no joblet cache"):
        main([str(tmp_path / "elsewhere"), "list"])
    with pytest.raises(SystemExit, match="at least one"):
        main([str(cache), "prune"])


def test_module_entry_point(cache):
    out = subprocess.run(
        [sys.executable, "-m", "joblet_memory", str(cache), "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "/half" in out
