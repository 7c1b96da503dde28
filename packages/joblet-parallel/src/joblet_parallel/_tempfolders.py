"""Private temporary folders for data shared with workers, and writing into them.

Memmapped arguments and shared arrays live in folders named
``joblet_<kind>_<pid>_<random>`` (mode 0700, files 0600) under the folder
:func:`choose_temp_folder` picks. A folder is removed by its owner when it is no
longer needed, at interpreter exit (also after Ctrl-C), and, when its process died
without cleaning up (killed, crashed), by the next process that creates one.

A write that fails because the folder is full raises :class:`TempFolderFullError`,
which names the folder and says how to avoid it.
"""

from __future__ import annotations

import atexit
import errno
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# shutil, tempfile and uuid are imported where used: this module is imported with
# joblet_parallel, and `import joblet_parallel` must stay cheap.

FOLDER_PREFIX = "joblet_memmapping_"
SHARED_FOLDER_PREFIX = "joblet_shared_"
_OUR_FOLDERS = re.compile(
    rf"^(?:{FOLDER_PREFIX}|{SHARED_FOLDER_PREFIX})(\d+)_[0-9a-zA-Z]+$"
)
#: Environment variable naming the folder for temporary memmaps.
TEMP_FOLDER_ENV = "JOBLET_TEMP_FOLDER"
SHARED_MEMORY_FOLDER = "/dev/shm"
SHARED_MEMORY_MIN_FREE = 2 * 1024**3
FILE_MODE = 0o600


class TempFolderFullError(OSError):
    """The temporary folder has no room left for data shared with workers."""


def choose_temp_folder(temp_folder: str | os.PathLike[str] | None) -> Path:
    """Where to put temporary memmaps: argument, environment, /dev/shm, system temp."""
    if temp_folder is not None:
        return Path(temp_folder)
    import shutil
    import tempfile

    from_env = os.environ.get(TEMP_FOLDER_ENV)
    if from_env:
        return Path(from_env)
    shm = Path(SHARED_MEMORY_FOLDER)
    try:
        if (
            shm.is_dir()
            and os.access(shm, os.W_OK)
            and shutil.disk_usage(shm).free >= SHARED_MEMORY_MIN_FREE
        ):
            return shm
    except OSError:
        pass
    return Path(tempfile.gettempdir())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_folders(base: Path) -> None:
    """Remove folders of ours whose owning process is gone."""
    import shutil

    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for entry in entries:
        match = _OUR_FOLDERS.match(entry.name)
        if not match or _pid_alive(int(match.group(1))):
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)


# Folders of this process still in use, removed at exit if nothing else did.
_live_folders: set[Path] = set()
_live_lock = threading.Lock()


@atexit.register
def _remove_live_folders() -> None:
    import shutil

    with _live_lock:
        folders = list(_live_folders)
        _live_folders.clear()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def make_private_folder(
    temp_folder: str | os.PathLike[str] | None, prefix: str = FOLDER_PREFIX
) -> Path:
    """Create ``<base>/<prefix><pid>_<random>`` (0700), removed at exit at the latest."""
    import uuid

    base = choose_temp_folder(temp_folder)
    base.mkdir(parents=True, exist_ok=True)
    remove_stale_folders(base)
    folder = base / f"{prefix}{os.getpid()}_{uuid.uuid4().hex[:12]}"
    try:
        folder.mkdir(mode=0o700)
    except OSError as error:
        _raise_if_full(error, base, 0)
        raise
    with _live_lock:
        _live_folders.add(folder)
    return folder


def remove_folder(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    with _live_lock:
        _live_folders.discard(folder)


def new_file_name(folder: Path, suffix: str) -> Path:
    import uuid

    return folder / f"{uuid.uuid4().hex}{suffix}"


# Test seam: tests replace it to simulate a full file system (ENOSPC) without
# needing a small one.
os_write = os.write


def write_file(path: Path, chunks: Iterable[Any], nbytes: int) -> None:
    """Write the byte buffers ``chunks`` into a new file ``path`` (mode 0600).

    The file is removed again if the write fails; a full folder raises
    :class:`TempFolderFullError`.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        try:
            for chunk in chunks:
                view = memoryview(chunk).cast("B")
                while view:
                    written = os_write(fd, view)
                    view = view[written:]
        finally:
            os.close(fd)
    except BaseException as error:
        try:
            os.unlink(path)
        except OSError:
            pass
        if isinstance(error, OSError):
            _raise_if_full(error, path.parent, nbytes)
        raise


def _raise_if_full(error: OSError, folder: Path, nbytes: int) -> None:
    if error.errno not in (errno.ENOSPC, errno.EDQUOT):
        return
    what = f"a {nbytes / 1024**2:.1f} MB argument" if nbytes else "its folder"
    raise TempFolderFullError(
        error.errno,
        f"The temporary folder for memmapping, {folder}, is full: could not write "
        f"{what} there for the workers ({os.strerror(error.errno)}). Pass "
        f"temp_folder= (or set {TEMP_FOLDER_ENV}) to a folder with more free "
        "space, or max_nbytes=None to send arguments to the workers by value "
        "instead of memory-mapping them.",
    ) from error
