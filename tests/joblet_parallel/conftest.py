"""Session check for the joblet_parallel tests: once they end, nothing of this
process is left in the temporary folders (memmapped arguments, shared arrays)."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


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
            found += base.glob(f"{prefix}{os.getpid()}_*")
    return sorted(found)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_in_temporary_folders():
    yield
    from joblet_parallel._executor import shutdown_pool

    shutdown_pool()  # the default pool keeps the files of arrays still alive
    gc.collect()
    leftovers = leftover_folders()
    assert not leftovers, f"the tests left temporary folders behind: {leftovers}"


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
