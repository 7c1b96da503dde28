"""Shared arrays reserve their space when created, and a folder of shared data
is stale only when its owner is provably gone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from joblet_parallel import _tempfolders as tempfolders

pytestmark = pytest.mark.timeout(60)

np = pytest.importorskip("numpy")

CREATE_TOO_LARGE = """
    import numpy as np
    import joblet_parallel as jp

    try:
        array = jp.{make}
    except jp.TempFolderFullError as error:
        print(error)
        raise SystemExit(3)
    array[:] = 1  # without a reservation: SIGBUS here
    print("written")
"""


@pytest.mark.parametrize(
    "make",
    ["shared_empty(4 * 1024**2, dtype=np.uint8)", "shared_array(np.ones(2**19))"],
)
def test_an_array_larger_than_the_free_space_is_refused_at_creation(
    tiny_filesystem, make
):
    env = dict(os.environ, **{tempfolders.TEMP_FOLDER_ENV: str(tiny_filesystem)})
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CREATE_TOO_LARGE.format(make=make))],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 3, (done.returncode, done.stdout, done.stderr)
    assert "is full" in done.stdout
    assert str(tiny_filesystem) in done.stdout
    assert "4.0 MB shared array" in done.stdout
    assert list(tiny_filesystem.iterdir()) == []  # nothing left behind


HOLD_LOCK = """
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(60)
"""


def foreign_folder(base, prefix):
    """A folder named for a pid that is not alive here, as a process of another
    pid namespace would name it."""
    folder = base / f"{prefix}{2**22 + 1}_0123456789ab"  # above any pid_max
    folder.mkdir(mode=0o700)
    (folder / "data").write_bytes(b"x")
    return folder


@pytest.mark.parametrize(
    "prefix", [tempfolders.SHARED_FOLDER_PREFIX, tempfolders.FOLDER_PREFIX]
)
def test_a_folder_whose_owner_lives_elsewhere_is_kept(tmp_path, prefix):
    folder = foreign_folder(tmp_path, prefix)
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD_LOCK), str(folder)],
        stdout=subprocess.PIPE,
        text=True,
    ) as owner:
        try:
            assert owner.stdout.readline().strip() == "locked"
            mine = tempfolders.make_private_folder(tmp_path, prefix)
            assert folder.is_dir()  # its owner holds its lock: alive
        finally:
            owner.kill()
    tempfolders.remove_folder(mine)
    mine = tempfolders.make_private_folder(tmp_path, prefix)
    assert not folder.exists()  # the owner is gone: its lock was released
    tempfolders.remove_folder(mine)
