"""How the files of a cache entry are written and read.

Results: the only module that knows the file format of outputs, so a store
backend or a test never depends on it. Every result file written here carries
a signature trailer (see :mod:`joblet_memory._signing`) and is checked before
anything in it is unpickled. Small text files (metadata, code records, tags)
go through joblet-persist's atomic write. Temporary files are named as
joblet-persist names them, so a dead writer's temporary is recognised and
swept (see :mod:`joblet_memory._leftovers`).
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import IO, Any

from joblet_persist import Compress, atomic_write, dump, load, temporary_name

from ._signing import Signer

OUTPUT_NAME = "output.pkl"
# Files this small are read in one go and loaded from memory (one read).
_READ_WHOLE = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def temporary_path(path: str) -> str:
    """A unique temporary file beside ``path`` (joblet-persist's naming)."""
    folder, name = os.path.split(path)
    return os.path.join(folder, temporary_name(name))


def write_text(path: str, text: str, file_mode: int = 0o600) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, with mode ``file_mode``."""
    data = memoryview(text.encode("utf-8"))

    def write(file: IO[bytes]) -> None:
        os.fchmod(file.fileno(), file_mode)  # before any byte is in it
        written = 0
        while written < len(data):
            written += file.write(data[written:]) or 0

    atomic_write(path, write)


def write_signed(
    value: Any,
    path: str,
    compress: Compress,
    signer: Signer,
    entry: str,
    file_mode: int = 0o600,
) -> None:
    """Write ``value`` to ``path``, signed for ``entry``, then chmod it.

    ``path`` must not exist yet or be a file the caller may replace; callers
    write to a temporary name and rename it (see :func:`write_output`).
    """
    dump(value, path, compress=compress)
    try:
        signer.sign_file(path, entry)
        os.chmod(path, file_mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def write_output(
    value: Any,
    path: str,
    compress: Compress,
    signer: Signer,
    entry: str,
    file_mode: int = 0o600,
) -> None:
    """Write ``value`` to ``path`` atomically (a signed temporary file, renamed)."""
    temporary = temporary_path(path)
    write_signed(value, temporary, compress, signer, entry, file_mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_output(path: str, mmap_mode: str | None, signer: Signer, entry: str) -> Any:
    """The value stored at ``path`` once its signature checks out.

    Raises ``FileNotFoundError`` if absent and
    :class:`~joblet_memory._signing.SignatureError` if unsigned or tampered
    with (nothing of it is unpickled then). A symbolic link at ``path`` is not
    followed.
    """
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_BINARY", 0))
    with open(fd, "rb", buffering=0) as handle:
        before = os.fstat(fd)
        if mmap_mode is None and before.st_size <= _READ_WHOLE:
            data = handle.read()
            if not signer.known_sound(entry, before, os.fstat(fd)):
                signer.verify_bytes(entry, data)
                signer.remember(entry, before)
            return load(io.BytesIO(data))  # shares the bytes; the trailer is ignored
        if not signer.known_sound(entry, before, before):
            signer.verify_file(handle, entry)
            signer.remember(entry, before)
        if mmap_mode is None:
            return load(handle)
    # The arrays are mapped from the file; only the verified prefix runs code.
    return load(path, mmap_mode=mmap_mode)


def load_bytes(data: bytes, signer: Signer, entry: str) -> Any:
    """The value held in ``data`` (a whole result file) once verified."""
    signer.verify_bytes(entry, data)
    return load(io.BytesIO(data))  # shares the bytes; the trailer is ignored
