"""Private temporary folders for data shared with workers, and writing into them.

Memmapped arguments and shared arrays live in folders named
``joblet_<kind>_<pid>_<random>`` (mode 0700, files 0600) under the folder
:func:`choose_temp_folder` picks. A folder is removed by its owner when it is no
longer needed, at interpreter exit (also after Ctrl-C), and, when its process died
without cleaning up (killed, crashed), by the next process that creates one.

The owner holds a lock (``flock``) on the folder itself from before the
folder gets its name (it is made under a hidden name, locked, then renamed)
until it is removed; the kernel releases the lock when the owner dies. A
folder is stale only when that lock is free and its pid is not alive: the pid
alone proves nothing, since the folder may belong to a process of another pid
namespace (containers that share ``/dev/shm``), where that pid means another
process or none.

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


def _lock_folder(folder: Path, blocking: bool) -> int | None:
    """An fd of ``folder`` holding its exclusive lock; None when another
    process holds it (or it cannot be opened)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock: judged by the pid alone
        return os.open(os.devnull, os.O_RDONLY)
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:
        os.close(fd)
        return None
    return fd


def remove_stale_folders(base: Path) -> None:
    """Remove folders of ours whose owner is provably gone: its pid is not
    alive here and the folder's lock is free."""
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
        fd = _lock_folder(entry, blocking=False)
        if fd is None:
            continue  # its owner lives (perhaps in another pid namespace)
        try:
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            os.close(fd)


# Folders of this process still in use (with the fd holding each one's lock),
# removed at exit if nothing else did.
_live_folders: dict[Path, int | None] = {}
_live_lock = threading.Lock()


def _release(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


@atexit.register
def _remove_live_folders() -> None:
    import shutil

    with _live_lock:
        folders = list(_live_folders.items())
        _live_folders.clear()
    for folder, fd in folders:
        shutil.rmtree(folder, ignore_errors=True)
        _release(fd)


def make_private_folder(
    temp_folder: str | os.PathLike[str] | None, prefix: str = FOLDER_PREFIX
) -> Path:
    """Create ``<base>/<prefix><pid>_<random>`` (0700), removed at exit at the latest."""
    import uuid

    base = choose_temp_folder(temp_folder)
    base.mkdir(parents=True, exist_ok=True)
    remove_stale_folders(base)
    name = f"{prefix}{os.getpid()}_{uuid.uuid4().hex[:12]}"
    folder, unnamed = base / name, base / f".{name}"
    try:
        unnamed.mkdir(mode=0o700)
    except OSError as error:
        _raise_if_full(error, base, 0)
        raise
    # Locked before it has the name that stale-folder scans look for.
    fd = _lock_folder(unnamed, blocking=True)
    os.rename(unnamed, folder)
    with _live_lock:
        _live_folders[folder] = fd
    return folder


def remove_folder(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    with _live_lock:
        fd = _live_folders.pop(folder, None)
    _release(fd)


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


def reserve_file(filename: str, nbytes: int) -> None:
    """Create ``filename`` (mode 0600) with ``nbytes`` reserved on its file
    system, so that writing through a memory map never finds it full.

    A sparse file would take its pages only when first written, and a full
    file system then kills the writer with SIGBUS; reserving now raises
    :class:`TempFolderFullError` instead.
    """
    fd = os.open(filename, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, nbytes)
        else:  # pragma: no cover - macOS, Windows: a sparse file
            os.ftruncate(fd, nbytes)
    except OSError as error:
        os.close(fd)
        _raise_if_full(
            error,
            Path(filename).parent,
            nbytes,
            what=f"a {nbytes / 1024**2:.1f} MB shared array",
            advice=f"Set {TEMP_FOLDER_ENV} to a folder with more free space, or "
            "share a smaller array.",
        )
        raise
    os.close(fd)


def _raise_if_full(
    error: OSError,
    folder: Path,
    nbytes: int,
    what: str | None = None,
    advice: str | None = None,
) -> None:
    if error.errno not in (errno.ENOSPC, errno.EDQUOT):
        return
    if what is None:
        what = f"a {nbytes / 1024**2:.1f} MB argument" if nbytes else "its folder"
    raise TempFolderFullError(
        error.errno,
        f"The temporary folder for memmapping, {folder}, is full: could not write "
        f"{what} there for the workers ({os.strerror(error.errno)}). "
        + (
            advice
            or f"Pass temp_folder= (or set {TEMP_FOLDER_ENV}) to a folder with more "
            "free space, or max_nbytes=None to send arguments to the workers by "
            "value instead of memory-mapping them."
        ),
    ) from error
