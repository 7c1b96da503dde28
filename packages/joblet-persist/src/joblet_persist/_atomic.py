"""Atomic writes through a temporary file beside the target, and their sweeping.

A temporary file is named ``.<target name>.joblet-<host>-<pid>-<random>.tmp``:
the writer's host and process id make a temporary whose writer is gone (killed
with SIGKILL, power loss) recognisable, so later writes remove it.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Callable
from typing import IO

_TEMPORARY = re.compile(
    r"^\.(?P<target>.+)\.joblet-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]{12}\.tmp$"
)


def _host_tag() -> str:
    import socket  # not at import time: it costs more than the rest of the module

    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def temporary_name(name: str) -> str:
    """The name of a new temporary file for the target file ``name``.

    ``.<name>.joblet-<host>-<pid>-<random>.tmp``: a file of this name whose
    writer is gone is removed by :func:`sweep_temporaries`. For writers that
    finish a file in steps before renaming it into place themselves (joblet-memory
    signs a result before it becomes visible); others use :func:`atomic_write`.

    Parameters
    ----------
    name : str
        The target's file name (no folder).

    Returns
    -------
    str
        A file name in the same folder, unique to this call.
    """
    return f".{name}.joblet-{_host_tag()}-{os.getpid()}-{os.urandom(6).hex()}.tmp"


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but not ours, or cannot tell: keep the file
    return True


def sweep_temporaries(
    folder: str | os.PathLike[str], target: str | None = None, remove: bool = True
) -> list[tuple[str, int]]:
    """Find (and by default remove) dump temporaries whose writer is gone.

    Only files of joblet-persist's own temporary naming written on this host
    by a process that no longer exists are considered; a write in progress is
    never touched.

    Parameters
    ----------
    folder : str or os.PathLike
        The folder to look in (not recursive).
    target : str, optional
        Only the temporaries of this target file name; None for all.
    remove : bool, default True
        Remove them; False only lists them (to count their size).

    Returns
    -------
    list of (str, int)
        The paths of the stale temporaries and their sizes in bytes.
    """
    host = _host_tag()
    stale: list[tuple[str, int]] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return stale
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None or match["host"] != host:
            continue
        if target is not None and match["target"] != target:
            continue
        if _writer_alive(int(match["pid"])):
            continue
        path = os.path.join(os.fspath(folder), name)
        try:
            size = os.stat(path).st_size
            if remove:
                os.unlink(path)
        except OSError:
            continue  # removed meanwhile by another sweep
        stale.append((path, size))
    return stale


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Write the file ``path`` through ``write``: all of it, or nothing.

    ``write`` gets a binary file open for writing on a temporary file beside
    ``path`` (see :func:`temporary_name`), which is renamed over ``path`` once
    ``write`` returns; if it raises, the temporary is removed and ``path`` is
    untouched. Stale temporaries of ``path`` left by dead writers are swept
    first. The new file gets the umask's mode (``write`` may ``os.fchmod`` it).

    Parameters
    ----------
    path : str
        The file to create or replace; its folder must exist.
    write : callable
        ``write(file)``, writing the whole content.
    """
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"cannot dump to {path!r}: it is a directory; give a file name inside it"
        )
    folder, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"cannot dump to {path!r}: the folder {folder!r} does not exist; create "
            "it first (os.makedirs(folder, exist_ok=True))"
        )
    sweep_temporaries(folder, target=name)
    temporary = os.path.join(folder, temporary_name(name))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o666)  # the umask applies, as for open()
    try:
        with open(descriptor, "wb", buffering=0) as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:  # KeyboardInterrupt too: never leave the temporary
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
