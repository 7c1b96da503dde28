"""Temporary files of killed writers: counted in the cache size and swept."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from joblet_memory import Memory
from joblet_memory.__main__ import main
from joblet_memory._stores._leftovers import LEFTOVER_SECONDS, find_leftovers

pytest.importorskip("numpy")

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from joblet_memory import Memory

    def big(n):
        return np.ones(n)

    Memory(sys.argv[1], verbose=0).cache(big)(int(sys.argv[2]))
    """
)


def _temporaries(root):
    return [
        os.path.join(folder, name)
        for folder, _dirs, files in os.walk(root)
        for name in files
        if name.endswith(".tmp")
    ]


@pytest.mark.timeout(120)
def test_a_writer_killed_mid_dump_leaves_a_counted_then_swept_temporary(tmp_path):
    cache = tmp_path / "cache"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(cache), str(200_000_000 // 8)]
    )
    try:
        deadline = time.monotonic() + 90
        while not _temporaries(cache):
            assert child.poll() is None, "the writer finished before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    (temporary,) = _temporaries(cache)
    memory = Memory(cache, verbose=0)
    store = memory.store_backend
    assert store.get_items() == []  # no entry: the write never finished
    leftovers = find_leftovers(store)
    assert [leftover.path for leftover in leftovers] == [temporary]
    # Young: perhaps a write in progress, so counted but kept.
    assert memory.reduce_size() == []
    assert os.path.exists(temporary)
    assert leftovers[0].size == os.path.getsize(temporary)  # counted as it is
    old = time.time() - LEFTOVER_SECONDS - 10
    os.utime(temporary, (old, old))
    memory.reduce_size()
    assert not os.path.exists(temporary)


def _plant(tmp_path, age):
    memory = Memory(tmp_path, verbose=0)
    cached = memory.cache(abs)
    cached(-1)
    # The folder of an entry whose first write was killed: no output.pkl.
    entry = cached.store_backend.item_location((cached.func_id, "0" * 32))
    os.makedirs(entry)
    planted = [
        os.path.join(entry, ".output.pkl.joblet-0badc0de-99999999-0123456789ab.tmp"),
        os.path.join(entry, ".tmp-abcdef.json"),
    ]
    for path in planted:
        with open(path, "wb") as handle:
            handle.write(b"x" * 4096)
        when = time.time() - age
        os.utime(path, (when, when))
    return memory, cached, planted


def test_young_leftovers_count_against_bytes_limit(tmp_path):
    memory, cached, planted = _plant(tmp_path, age=0)
    entry_size = cached.store_backend.get_items()[0].size
    removed = memory.reduce_size(bytes_limit=entry_size + 4096)
    assert len(removed) == 1  # the entry and 8 KiB of temporaries do not fit
    assert all(os.path.exists(path) for path in planted)


def test_prune_and_list_see_leftovers(tmp_path, capsys):
    _memory, _cached, planted = _plant(tmp_path, age=LEFTOVER_SECONDS + 60)
    assert main([str(tmp_path), "list"]) == 0
    assert "2 temporary files" in capsys.readouterr().out
    assert main([str(tmp_path), "prune", "--leftovers", "--dry-run"]) == 0
    assert all(os.path.exists(path) for path in planted)
    assert main([str(tmp_path), "prune", "--leftovers"]) == 0
    out = capsys.readouterr().out
    assert "left by a killed write" in out
    assert not any(os.path.exists(path) for path in planted)


def test_the_first_write_of_a_function_sweeps_its_folder(tmp_path):
    _memory, _cached, planted = _plant(tmp_path, age=LEFTOVER_SECONDS + 60)
    from joblet_memory._stores import _leftovers

    _leftovers._swept.clear()  # as in a new process
    Memory(tmp_path, verbose=0).cache(abs)(-2)
    assert not any(os.path.exists(path) for path in planted)


UPLOADS = """
import sys, uuid
from joblet_memory import Memory

def negate(x):
    return -x

Memory(f"memory://uploads-{uuid.uuid4().hex}", verbose=0).cache(negate)(1)
"""


@pytest.mark.timeout(60)
def test_uploads_left_by_killed_clients_are_swept(tmp_path, fsspec_required):
    """A client killed mid-upload leaves its staged result; a later one removes it."""
    from joblet_memory._stores._fsspec import UPLOAD_NAME
    from joblet_persist import temporary_name

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = gone.stdout.strip()

    def planted(pid: str, age: float) -> pathlib.Path:
        name = temporary_name(UPLOAD_NAME)
        own_pid = name.rsplit(".joblet-", 1)[1].split("-")[1]
        path = tmp_path / name.replace(f"-{own_pid}-", f"-{pid}-")
        path.write_bytes(b"x" * 1000)
        os.utime(path, (time.time() - age, time.time() - age))
        return path

    stale = planted(dead_pid, age=7200)
    young = planted(dead_pid, age=10)  # another pid namespace, maybe: kept
    alive = planted(str(os.getpid()), age=7200)  # its writer runs: kept
    done = subprocess.run(
        [sys.executable, "-c", UPLOADS],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not stale.exists()
    assert young.exists()
    assert alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [young.name, alive.name]
    )
