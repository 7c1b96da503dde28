"""How the files of a cache entry are written and read.

Results: the only module that knows the file format of outputs, so a store
backend or a test never depends on it. A store that signs (see
:mod:`joblet_memory._stores._trust`) passes its :class:`~._signing.Signer`: the file
then carries a signature trailer, checked before anything in it is unpickled.
A store that does not sign passes None: files are written plain, and files
signed elsewhere (a cache copied from a shared store) still load, their trailer
cut off first, since joblet-persist refuses bytes after a compressed dump. Small text files (metadata, code records, tags)
go through joblet-persist's atomic write. Temporary files are named as
joblet-persist names them, so a dead writer's temporary is recognised and
swept (see :mod:`joblet_memory._stores._leftovers`).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from typing import IO, Any, cast

from joblet_persist import (
    Compress,
    atomic_write,
    code_region_length,
    dump,
    load,
    temporary_name,
)

from ._signing import HEAD_BYTES, TRAILER_SIZE, Signer, body_size

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
    signer: Signer | None,
    entry: str,
    file_mode: int = 0o600,
) -> None:
    """Write ``value`` to ``path``, signed for ``entry`` (unless ``signer`` is None).

    ``path`` must not exist yet or be a file the caller may replace; callers
    write to a temporary name and rename it (see :func:`replace_from`).
    """
    dump(value, path, compress=compress)
    with _removed_on_failure(path):
        if signer is not None:
            signer.sign_file(path, entry)
        os.chmod(path, file_mode)


def replace_from(
    path: str, produce: Callable[[str], object], file_mode: int = 0o600
) -> None:
    """Create or replace ``path`` with the file ``produce(temporary)`` writes.

    For producers that fill a path rather than a file object (``dump``,
    fsspec's ``get_file``): the file is written beside ``path`` under
    joblet-persist's temporary naming, given ``file_mode`` and renamed over
    ``path``; on any failure the temporary is removed and ``path`` is untouched.
    """
    temporary = temporary_path(path)
    with _removed_on_failure(temporary):
        produce(temporary)
        os.chmod(temporary, file_mode)
        os.replace(temporary, path)


@contextlib.contextmanager
def _removed_on_failure(path: str) -> Iterator[None]:
    """Remove ``path`` if the block fails (nothing half-written stays)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


class _Prefix(io.RawIOBase):
    """The first ``size`` bytes of an open file: the dump without its trailer.

    Reads go straight to the file (``readinto``), so arrays are still read
    without an intermediate copy.
    """

    def __init__(self, handle: IO[bytes], size: int, name: str) -> None:
        super().__init__()
        self._handle = handle
        self._size = size
        self._position = 0
        self.name = name
        handle.seek(0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}
        self._position = max(0, base[whence] + offset)
        self._handle.seek(min(self._position, self._size))
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._position)
        if wanted <= 0:
            return 0
        got = self._handle.readinto(view[:wanted]) or 0  # type: ignore[attr-defined]
        self._position += got
        return got


def _tail(handle: IO[bytes], size: int) -> bytes:
    if size < TRAILER_SIZE:
        return b""
    handle.seek(size - TRAILER_SIZE)
    return handle.read(TRAILER_SIZE)


def read_output(
    path: str, mmap_mode: str | None, signer: Signer | None, entry: str
) -> Any:
    """The value stored at ``path``, once its signature checks out.

    With ``signer`` None the file is loaded without a check (a trusted store),
    a trailer left by a signing writer cut off. Raises ``FileNotFoundError`` if
    absent and :class:`~joblet_memory._stores._signing.SignatureError` if unsigned or
    tampered with (nothing of it is unpickled then). A symbolic link at
    ``path`` is not followed.
    """
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_BINARY", 0))
    with open(fd, "rb", buffering=0) as handle:
        before = os.fstat(fd)
        if mmap_mode is None and before.st_size <= _READ_WHOLE:
            data = handle.read()
            if signer is not None and not signer.known_sound(
                entry, before, os.fstat(fd)
            ):
                signer.verify_bytes(entry, data)
                signer.remember(entry, before)
            return _load_whole(data)
        if signer is not None and not signer.known_sound(entry, before, before):
            signer.verify_file(handle, entry)
            signer.remember(entry, before)
        body = body_size(before.st_size, _tail(handle, before.st_size))
        if mmap_mode is None or not maps_in_place(handle, body):
            # a compressed dump cannot be mapped (Memory warned at construction)
            return load(cast(IO[bytes], _Prefix(handle, body, path)))
        # Mapping needs the path: the load opens it again, and refuses a file
        # renamed over the one just verified (this open handle keeps that
        # one's inode from being reused meanwhile). Only the verified prefix
        # runs code; joblet-persist reads the dump no further than its end.
        return load(path, mmap_mode=mmap_mode, same_file_as=before)


def maps_in_place(handle: IO[bytes], body: int) -> bool:
    """Whether the dump of ``body`` bytes in ``handle`` has buffers to map.

    True for an uncompressed joblet-persist file with arrays after its pickle
    stream; False for a compressed one (all of it is the signed region).
    """
    handle.seek(0)
    return code_region_length(handle.read(min(body, HEAD_BYTES)), body) < body


def _load_whole(data: bytes) -> Any:
    body = body_size(len(data), data[-TRAILER_SIZE:])
    if body < len(data):
        data = data[:body]
    return load(io.BytesIO(data))  # shares the bytes


def load_bytes(data: bytes, signer: Signer | None, entry: str) -> Any:
    """The value held in ``data`` (a whole result file) once verified."""
    if signer is not None:
        signer.verify_bytes(entry, data)
    return _load_whole(data)
