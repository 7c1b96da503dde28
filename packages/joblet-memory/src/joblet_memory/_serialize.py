"""How a result is written to and read from its file: joblet-persist, signed.

The only module that knows the file format of outputs, so a store backend or a
test never depends on it. Every file written here carries a signature trailer
(see :mod:`joblet_memory._signing`) and is checked before anything in it is
unpickled.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from typing import Any

from joblet_persist import dump, load

from ._signing import Signer

OUTPUT_NAME = "output.pkl"
# Files this small are read in one go and loaded from memory (one read).
_READ_WHOLE = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def temporary_name(path: str) -> str:
    """A unique temporary name beside ``path`` (joblet-persist's naming)."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")


def write_signed(
    value: Any,
    path: str,
    compress: bool | int | str | tuple[str, int],
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
    compress: bool | int | str | tuple[str, int],
    signer: Signer,
    entry: str,
    file_mode: int = 0o600,
) -> None:
    """Write ``value`` to ``path`` atomically (a signed temporary file, renamed)."""
    temporary = temporary_name(path)
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
