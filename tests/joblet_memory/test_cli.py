"""python -m joblet_memory LOCATION list/show/prune/clear."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from joblet_test_helpers import load_helper

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


def test_list_shows_the_counters(tmp_path, capsys):
    cached = Memory(tmp_path, verbose=0).cache(half)
    cached(1)
    cached(1)
    cached(1)
    cached._counters.flush()
    assert main([str(tmp_path), "list"]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert header.split()[:6] == [
        "function",
        "entries",
        "size",
        "hits",
        "misses",
        "saved",
    ]
    assert row.split()[1:6] == ["1", row.split()[2], "B", "2", "1"]


@pytest.mark.parametrize(("count", "words"), [(1, "1 entry,"), (2, "2 entries,")])
def test_entries_are_counted_in_words(tmp_path, capsys, count, words):
    cached = Memory(tmp_path, verbose=0).cache(half)
    for i in range(count):
        cached(i)
    assert main([str(tmp_path), "show", "half"]) == 0
    assert words in capsys.readouterr().out.splitlines()[0]


def test_sizes_are_in_mib_and_durations_in_human_units(tmp_path, capsys):
    memory = Memory(tmp_path, verbose=0)
    memory.cache(twice)(b"x" * 3 * 1024 * 1024)
    assert main([str(tmp_path), "show", "twice"]) == 0
    out = capsys.readouterr().out
    assert " MiB" in out
    assert " MB" not in out
    computed = next(line for line in out.splitlines() if "computed" in line)
    assert computed.rstrip().endswith((" us", " ms", " s"))


def _module(tmp_path, name, source):
    import linecache

    path = tmp_path / f"{name}.py"
    path.write_text(source)
    linecache.checkcache(str(path))
    return load_helper(path, name)


def test_why_reports_code_changes_and_evictions(tmp_path, capsys):
    memory = Memory(tmp_path / "cache", verbose=0)
    name = f"why_{tmp_path.name[-12:].replace('-', '_')}"
    try:
        memory.cache(_module(tmp_path, name, "def step(x):\n    return x + 1\n").step)(
            1
        )
        edited = memory.cache(
            _module(tmp_path, name, "def step(x):\n    return x + 2\n").step
        )
        edited(1)
        edited(2)
    finally:
        sys.modules.pop(name, None)
    memory.reduce_size(items_limit=1)
    assert main([str(tmp_path / "cache"), "why", f"{name}/step"]) == 0
    out = capsys.readouterr().out
    assert "own code changed; 1 entry removed" in out
    assert "+    return x + 2" in out
    assert "1 entry evicted by the cache limits" in out


def test_version_and_documented_exit_codes(tmp_path, capsys):
    from joblet_memory import __version__

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"joblet-memory {__version__}"
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert "exit codes:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path), "list"])  # no cache there
    assert "holds no joblet cache" in str(exited.value.code)
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path), "frobnicate"])
    assert exited.value.code == 2


def test_counts_of_a_finished_process_are_listed(tmp_path, capsys):
    script = (
        "import sys\n"
        "from joblet_memory import Memory\n"
        "f = Memory(sys.argv[1], verbose=0).cache(abs)\n"
        "f(-1); f(-1); f(-1); f(-2)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    assert main([str(tmp_path), "list"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[0] == "builtins/abs"
    assert row[4:6] == ["2", "2"]  # hits, misses: flushed at exit


@pytest.mark.timeout(120)
def test_counts_of_a_short_script_on_an_object_store_are_listed(s3_cache, capsys):
    """Flushed at exit before fsspec stops the loop s3fs writes through."""
    url, options = s3_cache
    script = (
        "import json, sys\n"
        "from joblet_memory import Memory\n"
        "options = json.loads(sys.argv[2])\n"
        "f = Memory(sys.argv[1], verbose=0, backend_options=options).cache(abs)\n"
        "f(-1); f(-1); f(-1); f(-2)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, url, json.dumps(options)],
        check=True,
        timeout=100,
    )
    flags = [f"-o{name}={json.dumps(value)}" for name, value in options.items()]
    assert main([url, *flags, "list"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[0] == "builtins/abs"
    assert row[4:6] == ["2", "2"]  # hits, misses


@pytest.mark.timeout(120)
def test_an_empty_object_store_prefix_is_an_error(s3_cache):
    url, options = s3_cache
    flags = [f"-o{name}={json.dumps(value)}" for name, value in options.items()]
    with pytest.raises(SystemExit, match="holds no joblet cache"):
        main([url, *flags, "list"])


def test_show_into_a_closed_pipe_ends_without_a_traceback(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    for i in range(3000):
        memory.cache(half)(i)
    done = subprocess.run(
        f"{sys.executable} -m joblet_memory {tmp_path} show half | head -n 2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(done.stdout.splitlines()) == 2
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr
