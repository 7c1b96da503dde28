"""The leftover check of ``nox -s demo`` / ``nox -s docs`` (``tools/leftovers.py``).

A run is a child process (the watch's root); "other programs" are a sibling
process and files planted by this test process, neither of them below the root.
Every name carries a random token, so concurrent runs on the machine do not
collide, and everything planted is removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest
from joblet_test_helpers import load_helper

leftovers = load_helper(
    Path(__file__).resolve().parents[2] / "tools" / "leftovers.py",
    "joblet_tools_leftovers",
)

SHM = Path("/dev/shm")
TMP = Path(tempfile.gettempdir())

pytestmark = pytest.mark.skipif(
    not (Path("/proc/self/stat").exists() and SHM.is_dir()),
    reason="the check reads /proc and watches /dev/shm (Linux)",
)

# A program that makes what the test asks (one line of Python per step, sent
# on stdin), answers "done" after each, and ends at end of input.
PRELUDE = "import mmap, os, socket, subprocess, sys, time; held = []"
STEPPER = textwrap.dedent(
    f"""
    {PRELUDE}
    for line in sys.stdin:
        exec(line)
        print("done", flush=True)
    """
)


class Program:
    """A Python process driven step by step (see ``STEPPER``)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", STEPPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.process.pid

    def do(self, code: str) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(code.replace("\n", "; ") + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline() == "done\n"

    def end(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0


def hold_file(path: Path) -> str:
    """Code: create ``path`` and keep it open and memory-mapped (a semaphore)."""
    return (
        f"f = open({str(path)!r}, 'w+b'); f.write(bytes(32)); f.flush(); "
        "held.append((f, mmap.mmap(f.fileno(), 32)))"
    )


def bind_socket(path: Path) -> str:
    """Code: bind a unix socket at ``path`` and keep it (a server's socket)."""
    return (
        "s = socket.socket(socket.AF_UNIX); "
        f"s.bind({str(path)!r}); s.listen(); held.append(s)"
    )


def in_a_child(code: str) -> str:
    """Code: run ``code`` in a child process of the program, which then exits."""
    return (
        f"subprocess.run([sys.executable, '-c', {PRELUDE + '; ' + code!r}], check=True, "
        "stdin=subprocess.DEVNULL)"
    )


@pytest.fixture
def planted():
    """Paths to remove after the test, whoever made them."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def watch_of(run: Program, **options):
    return leftovers.Watch(
        [leftovers.Place(TMP), leftovers.Place(SHM)],
        root_pid=run.pid,
        interval=0.05,
        **options,
    ).start()


def other_programs_plant(token: str, planted: list[Path]) -> Program:
    """Another program's files in /dev/shm and the temp dir, some held open."""
    other = Program()
    names = {
        SHM / f"sem.mp-{token}a": hold_file,
        SHM / f"psm_{token}": hold_file,
        TMP / f"seaweedfs-s3-grpc-{token}.sock": bind_socket,
    }
    for path, make in names.items():
        planted.append(path)
        other.do(make(path))
    folders = [
        SHM / f"joblib_memmapping_folder_{other.pid}_{token}_x",
        SHM / f"joblet_memmapping_{other.pid}_{token}",
        TMP / f"joblet_shared_{other.pid}_{token}",
    ]
    for folder in folders:
        planted.append(folder)
        other.do(f"os.mkdir({str(folder)!r})")
    # Made by this test process, the run's parent (not part of the run).
    for path in (SHM / f"sem.loky-{os.getpid()}-{token}", SHM / f"sem.{token}"):
        planted.append(path)
        path.write_bytes(bytes(32))
    return other


def test_other_programs_files_are_not_counted(planted):
    token = uuid.uuid4().hex[:10]
    run = Program()
    watch = watch_of(run)
    other = other_programs_plant(token, planted)
    # The run itself uses /dev/shm and the temp dir and cleans up after itself.
    mine = SHM / f"sem.mp-{token}r"
    planted.append(mine)
    run.do(in_a_child(f"{hold_file(mine)}; time.sleep(0.3); os.unlink({str(mine)!r})"))
    run.end()
    findings = watch.stop(settle=10)
    other.end()

    assert findings.ok, findings.summary()
    ignored = set(findings.others[SHM]) | set(findings.others[TMP])
    assert {path.name for path in planted if path != mine} <= ignored
    summary = findings.summary()
    assert "left behind by this run: nothing" in summary
    assert "not this run's (other programs), ignored" in summary
    assert findings.processes_seen >= 2  # the run and its child


def test_the_runs_own_leftovers_are_reported(planted):
    token = uuid.uuid4().hex[:10]
    run = Program()
    watch = watch_of(run)
    other = other_programs_plant(token, planted)
    semaphore = SHM / f"sem.mp-{token}r"
    sock = TMP / f"seaweedfs-filer-grpc-{token}.sock"
    planted += [semaphore, sock]
    # A grandchild of the root holds a semaphore and a socket, then dies
    # without removing them; the watch sees them while they are held.
    run.do(
        in_a_child(
            f"{hold_file(semaphore)}; {bind_socket(sock)}; time.sleep(1); os._exit(0)"
        )
    )
    # A folder named with the pid of the run's own process, left empty.
    folder = SHM / f"joblet_memmapping_{run.pid}_{token}"
    planted.append(folder)
    run.do(f"os.mkdir({str(folder)!r})")
    run.end()
    findings = watch.stop(settle=10)
    other.end()

    assert not findings.ok
    assert set(findings.left[SHM]) == {semaphore.name, folder.name}
    assert set(findings.left[TMP]) == {sock.name}
    assert "held open by a process of this run" in findings.left[SHM][semaphore.name]
    assert f"carries pid {run.pid}" in findings.left[SHM][folder.name]
    summary = findings.summary()
    assert str(semaphore) in summary
    assert str(sock) in summary
    assert f"psm_{token}" in summary  # the other program's, listed as ignored


def test_a_folder_of_the_run_counts_whole(planted, tmp_path):
    own = tmp_path / "private"
    own.mkdir()
    run = Program()
    watch = leftovers.Watch(
        [leftovers.Place(own, ours=True)], root_pid=run.pid, interval=0.05
    ).start()
    run.do(f"open({str(own / 'closed-file')!r}, 'w').close()")
    (own / "pymp-abc").mkdir()  # removed later by its interpreter: ignored
    run.end()
    findings = watch.stop(settle=1)
    assert findings.left[own] == {
        "closed-file": "in this run's own folder",
        "pymp-abc": "in this run's own folder",
    }

    watch = leftovers.Watch(
        [leftovers.Place(own, ours=True)],
        root_pid=os.getpid(),
        removed_later=("pymp-",),
    ).start()
    (own / "pymp-def").mkdir()
    assert watch.stop(settle=0).ok


def test_waits_for_the_runs_processes_to_remove_their_files(planted):
    """A process of the run may remove its file as it exits (a resource tracker)."""
    token = uuid.uuid4().hex[:10]
    late = SHM / f"sem.mp-{token}late"
    planted.append(late)
    run = Program()
    watch = watch_of(run)
    # The run starts a helper that outlives it by a second, then removes the file.
    helper = f"{PRELUDE}; {hold_file(late)}; time.sleep(1.5); os.unlink({str(late)!r})"
    run.do(
        f"subprocess.Popen([sys.executable, '-c', {helper!r}], stdin=subprocess.DEVNULL)"
    )
    watch.look()
    run.end()
    findings = watch.stop(settle=20)
    assert findings.ok, findings.summary()
    assert not late.exists()


def test_still_running_processes_are_named():
    run = Program()
    watch = watch_of(run)
    run.do(
        "held.append(subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(30)'], stdin=subprocess.DEVNULL))"
    )
    watch.look()
    child = [pid for pid in leftovers._descendants(run.pid) if pid != run.pid]
    findings = watch.stop(settle=0.2)
    try:
        assert findings.ok
        assert len(child) == 1
        assert f"pid {child[0]} (python" in findings.summary()
    finally:
        for pid in child:
            os.kill(pid, 9)
        run.end()


def test_without_proc_only_own_folders_count(monkeypatch, tmp_path):
    monkeypatch.setattr(leftovers, "PROC", tmp_path / "no-proc")
    own = tmp_path / "own"
    own.mkdir()
    shared = tmp_path / "shared"
    shared.mkdir()
    watch = leftovers.Watch(
        [leftovers.Place(own, ours=True), leftovers.Place(shared)]
    ).start()
    (own / "x").touch()
    (shared / f"joblet_memmapping_{os.getpid()}_abc").mkdir()
    findings = watch.stop(settle=0)
    assert list(findings.left[own]) == ["x"]
    assert findings.others[shared] == [f"joblet_memmapping_{os.getpid()}_abc"]
    assert "no /proc" in findings.summary()


def test_unix_socket_paths_reads_the_kernel_table(tmp_path):
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        # A socket's inode number is the N of its descriptor's "socket:[N]".
        inode = str(os.fstat(server.fileno()).st_ino)
        found = leftovers._unix_socket_paths({inode}, (f"{tmp_path}{os.sep}",))
    assert found == {str(path)}


def test_the_gallery_check_names_the_example_and_its_files(monkeypatch, tmp_path):
    """docs/gallery.py's per-example hook, on the same Watch."""
    gallery = load_helper(
        Path(__file__).resolve().parents[2] / "docs" / "gallery.py",
        "joblet_docs_gallery",
    )
    examples, temp = tmp_path / "examples", tmp_path / "tmp"
    examples.mkdir()
    temp.mkdir()
    monkeypatch.setattr(gallery, "EXAMPLES", examples)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.delenv(leftovers.RUN_TMPDIR_ENV, raising=False)
    check = gallery.LeftoverCheck()

    # Another program's file in the shared temp dir, the interpreter's pymp-
    # folder: not the example's.
    check({}, "plot_clean.py", "before")
    (temp / "someone-elses-file").touch()
    (temp / "pymp-abc").mkdir()
    check({}, "plot_clean.py", "after")

    # A file written into the working folder (the examples folder) is.
    check({}, "plot_messy.py", "before")
    (examples / "result.pkl").touch()
    with pytest.raises(RuntimeError, match=r"plot_messy\.py left files behind") as info:
        check({}, "plot_messy.py", "after")
    assert "result.pkl" in str(info.value)

    # When nox made the temp dir for this build alone, all of it counts.
    monkeypatch.setenv(leftovers.RUN_TMPDIR_ENV, str(temp))
    check({}, "plot_temp.py", "before")
    (temp / "closed-file").touch()
    with pytest.raises(RuntimeError, match="closed-file"):
        check({}, "plot_temp.py", "after")
