"""Session check for the joblet_parallel tests: once they end, nothing joblet
started is left running (worker processes, its threads) and nothing of this
process is left in the temporary folders (memmapped arguments, shared arrays).
Only what joblet creates is looked at: its folder prefixes with this pid, its
thread names, this process's children."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from joblet_test_helpers import leftover_children, leftover_threads


def leftover_folders() -> list[Path]:
    """Our folders of this process in /dev/shm, the system temp folder and the
    memmapping default."""
    from joblet_parallel._tempfolders import (
        FOLDER_PREFIX,
        SHARED_FOLDER_PREFIX,
        SHARED_MEMORY_FOLDER,
        choose_temp_folder,
    )

    bases = {
        Path(SHARED_MEMORY_FOLDER),
        Path(tempfile.gettempdir()),
        choose_temp_folder(None),
    }
    found: list[Path] = []
    for base in bases:
        for prefix in (FOLDER_PREFIX, SHARED_FOLDER_PREFIX):
            # named, or still hidden (made, locked, not yet renamed)
            for pattern in (f"{prefix}{os.getpid()}_*", f".{prefix}{os.getpid()}_*"):
                found += base.glob(pattern)
    return sorted(found)


def wait_for_nothing_left(
    seconds: float = 10.0,
) -> tuple[list[str], list[str], list[Path]]:
    """What is still left after up to ``seconds`` (tasks of an aborted thread
    call end on their own; workers take a moment to exit)."""
    deadline = time.monotonic() + seconds
    while True:
        gc.collect()
        left = leftover_threads(), leftover_children(), leftover_folders()
        if not any(left) or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_in_temporary_folders():
    yield
    from joblet_parallel._executor import shutdown_pool

    shutdown_pool()  # the default pool keeps the files of arrays still alive
    threads, children, folders = wait_for_nothing_left()
    assert not threads, f"the tests left joblet threads running: {threads}"
    assert not children, f"the tests left processes running: {children}"
    assert not folders, f"the tests left temporary folders behind: {folders}"


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 1 MB tmpfs (needs root and mount; skipped elsewhere)."""
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None:
        pytest.skip("mounting a small tmpfs needs root")
    folder = tmp_path / "tiny"
    folder.mkdir()
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr!r}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)
