"""Signed entries: a cache file that was not written with the key never unpickles.

Loading a pickle runs code, so anyone who can put a file in a cache folder (or a
bucket) could run code in every process that reads it. Every result file joblet
writes ends with a **trailer**::

    mac (32 bytes)  key id (8 bytes)  TRAILER_MAGIC (8 bytes)

``mac`` is an HMAC-SHA256, keyed by the cache's secret, over the entry's name
(``func_id/args_id``, so a signed result cannot be moved to another entry) and
the **signed region**: the parts of the file that can run code when loaded. For
an uncompressed joblet-persist file that is its header, buffer table and pickle
stream; the raw array buffers that follow are data that nothing executes, so
they stay unsigned and a memory-mapped hit reads only the small prefix. For a
compressed or foreign file the region is the whole file before the trailer.

joblet-persist ignores bytes after the end its header announces, so a signed
file is still an ordinary joblet-persist file.

Which stores sign is decided by :mod:`joblet_memory._stores._trust` (a folder only
the user can write is read without signatures, as joblib's). A store that does
not sign still reads signed files: :func:`body_size` tells where the result
file ends and the trailer begins.

The key comes from ``Memory(signing_key=...)``, else the ``JOBLET_CACHE_KEY``
environment variable, else a key file created once (mode 0600) in the user's
configuration folder (``$XDG_CONFIG_HOME/joblet/cache-key``, by default
``~/.config/joblet/cache-key``; ``%APPDATA%\\joblet\\cache-key`` on Windows).
The key file is refused when it is a symbolic link, not owned by the user or
readable by others.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from typing import IO

from joblet_persist import code_region_length

from .._errors import SignatureError
from .._user_folders import user_folder

TRAILER_MAGIC = b"JBLTSIG1"
#: Bytes read to find a dump's code region: more than any joblet-persist
#: header (see ``joblet_persist.code_region_length``).
HEAD_BYTES = 256
MAC_SIZE = 32
KEY_ID_SIZE = 8
TRAILER_SIZE = MAC_SIZE + KEY_ID_SIZE + len(TRAILER_MAGIC)
KEY_ENV = "JOBLET_CACHE_KEY"
KEY_FILE_NAME = "cache-key"
MIN_KEY_BYTES = 16
_DOMAIN = b"joblet-memory entry v1\x00"
_BLOCK = 64  # SHA-256's block size, for HMAC's key pads
_SETTLED = 2.0  # seconds since a file's last change before it is remembered
_MAX_REMEMBERED = 4096


def key_file_path() -> str:
    """Where the default signing key lives."""
    return os.path.join(user_folder("config"), KEY_FILE_NAME)


def _read_key_file(path: str) -> bytes:
    """The key file's text, refused unless it is the user's own private file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise PermissionError(
                f"the signing key file {path} is owned by another user (uid "
                f"{info.st_uid}); a key someone else controls signs nothing. Delete "
                f"it to have a new key created, or set {KEY_ENV}"
            )
        if hasattr(os, "getuid") and info.st_mode & 0o077:
            raise PermissionError(
                f"the signing key file {path} has mode {info.st_mode & 0o777:o}, "
                f"readable by others who could then forge entries; run "
                f"`chmod 600 {path}` (or delete it to have a new key created)"
            )
        return handle.read().strip()


def _read_or_create_key_file(path: str) -> bytes:
    try:
        text = _read_key_file(path)
    except FileNotFoundError:
        text = b""
    except OSError:
        if os.path.islink(path):  # O_NOFOLLOW refused it
            raise PermissionError(
                f"the signing key file {path} is a symbolic link; joblet reads only "
                f"a regular file it created (mode 0600). Replace the link with the "
                f"key file itself, or set {KEY_ENV}"
            ) from None
        raise
    if not text:
        folder = os.path.dirname(path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        # Write a private temporary file, then link it into place: two processes
        # creating the key at once end up with the same key, never a half file.
        temporary = os.path.join(folder, f".{KEY_FILE_NAME}.{secrets.token_hex(6)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_hex(32).encode("ascii") + b"\n")
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
        text = _read_key_file(path)
    if len(text) < MIN_KEY_BYTES:
        raise ValueError(
            f"the signing key file {path} holds {len(text)} bytes, fewer than "
            f"{MIN_KEY_BYTES}; delete it to have a new key created, or set {KEY_ENV}"
        )
    return text


def _as_key(key: bytes | str, source: str) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise ValueError(
            f"the signing key from {source} has {len(raw)} bytes; use at least "
            f"{MIN_KEY_BYTES} random bytes (for example secrets.token_hex(32))"
        )
    return raw


def _file_version(entry: str, stat: os.stat_result) -> tuple[str, int, int, int, int]:
    return (entry, stat.st_dev, stat.st_ino, stat.st_ctime_ns, stat.st_size)


def _hmac_pads(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-256 states after HMAC's inner and outer key pads, copied per message.

    The same value as ``hmac.new(key, msg, 'sha256')``, in about a third of
    the time for the small regions of most entries (OpenSSL's HMAC setup
    dominates there).
    """
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\x00")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
    return inner, outer


def key_id(key: bytes) -> bytes:
    """A short public fingerprint of ``key`` (tells 'other key' from 'tampered')."""
    return hashlib.sha256(b"joblet key id\x00" + key).digest()[:KEY_ID_SIZE]


class Signer:
    """Signs and verifies result files with one key.

    Parameters
    ----------
    key : bytes or str, optional
        The secret; None resolves it lazily from ``JOBLET_CACHE_KEY`` or the key
        file, so a pickled store does not carry a key it was not given.
    trust_unsigned : bool, default False
        Read entries without a trailer (caches written before signing). Entries
        with a wrong signature are refused regardless.
    """

    def __init__(
        self, key: bytes | str | None = None, trust_unsigned: bool = False
    ) -> None:
        self.explicit_key = None if key is None else _as_key(key, "signing_key=")
        self.trust_unsigned = bool(trust_unsigned)
        self._key: bytes | None = self.explicit_key
        self._pads: tuple[hashlib._Hash, hashlib._Hash] | None = None
        self._sound: dict[tuple[str, int, int, int, int], None] = {}
        self._lock = threading.Lock()

    @property
    def is_default(self) -> bool:
        """No explicit key and no trust of unsigned entries."""
        return self.explicit_key is None and not self.trust_unsigned

    @property
    def opted_in(self) -> bool:
        """A key was chosen (``signing_key=`` or ``JOBLET_CACHE_KEY``): always sign."""
        return self.explicit_key is not None or bool(os.environ.get(KEY_ENV))

    @property
    def key(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    env = os.environ.get(KEY_ENV)
                    if env:
                        self._key = _as_key(env, f"the {KEY_ENV} environment variable")
                    else:
                        self._key = _read_or_create_key_file(key_file_path())
        return self._key

    def __getstate__(self) -> dict[str, object]:
        return {"key": self.explicit_key, "trust_unsigned": self.trust_unsigned}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["key"], bool(state["trust_unsigned"]))  # type: ignore[misc]

    def __repr__(self) -> str:  # never shows the key
        return f"Signer(trust_unsigned={self.trust_unsigned})"

    # -- files already verified ---------------------------------------------
    # A file's ctime changes with any write to it and cannot be set back by
    # anyone, so (inode, ctime, size) of a verified file names verified bytes.
    # Only files last changed > 2 s before verification are remembered, so
    # even a filesystem with 1-second timestamps cannot hide a write.

    def known_sound(
        self, entry: str, before: os.stat_result, after: os.stat_result
    ) -> bool:
        """Whether this exact file version was verified (unchanged while read)."""
        key = _file_version(entry, before)
        return key == _file_version(entry, after) and key in self._sound

    def remember(self, entry: str, stat: os.stat_result) -> None:
        """Record a file version that just verified."""
        if time.time() - stat.st_ctime > _SETTLED:
            if len(self._sound) >= _MAX_REMEMBERED:
                self._sound.clear()
            self._sound[_file_version(entry, stat)] = None

    def mac(self, entry: str, region: bytes | memoryview) -> bytes:
        """HMAC-SHA256 of the entry name and ``region`` (RFC 2104)."""
        if self._pads is None:
            self._pads = _hmac_pads(self.key)
        inner, outer = self._pads[0].copy(), self._pads[1].copy()
        inner.update(_DOMAIN + entry.encode("utf-8") + b"\x00")
        inner.update(region)
        outer.update(inner.digest())
        return outer.digest()

    def trailer(self, entry: str, region: bytes | memoryview) -> bytes:
        return self.mac(entry, region) + key_id(self.key) + TRAILER_MAGIC

    # -- files ------------------------------------------------------------------

    def sign_file(self, path: str, entry: str) -> None:
        """Append the trailer to the just-written result file ``path``."""
        with open(path, "r+b") as handle:
            size = os.fstat(handle.fileno()).st_size
            region = read_region(handle, size)
            handle.seek(0, os.SEEK_END)
            handle.write(self.trailer(entry, region))

    def check(self, entry: str, region: bytes | memoryview, tail: bytes) -> None:
        """Raise :class:`SignatureError` unless ``tail`` signs ``region``."""
        where = f"cache entry {entry}"
        if len(tail) != TRAILER_SIZE or not tail.endswith(TRAILER_MAGIC):
            if self.trust_unsigned:
                return
            raise SignatureError(
                f"{where} is unsigned (written before signing, or not by joblet); "
                "it is not loaded. Pass trust_unsigned=True to read a cache you "
                "wrote with an older joblet",
                "unsigned",
            )
        expected = self.mac(entry, region)
        if hmac.compare_digest(expected, tail[:MAC_SIZE]):
            return
        if tail[MAC_SIZE : MAC_SIZE + KEY_ID_SIZE] != key_id(self.key):
            raise SignatureError(
                f"{where} is signed with another key (or forged); it is not loaded "
                "(a team shares one key: pass the same signing_key= or set "
                f"{KEY_ENV} in every process)",
                "other key",
            )
        raise SignatureError(
            f"{where} has a wrong signature (modified after it was written); it is "
            "not loaded",
            "bad signature",
        )

    def verify_bytes(self, entry: str, data: bytes) -> None:
        """Check a whole result file held in memory (trailer included).

        The path of every small hit, so the sound case is inlined: one HMAC
        over a view of the region, one constant-time comparison.
        """
        size = len(data)
        body_size = size - TRAILER_SIZE
        if size >= TRAILER_SIZE and data.endswith(TRAILER_MAGIC):
            region = memoryview(data)[: code_region_length(data, body_size)]
            if hmac.compare_digest(
                self.mac(entry, region), data[body_size : body_size + MAC_SIZE]
            ):
                return
            self.check(entry, region, data[body_size:])
        region = memoryview(data)[: code_region_length(data, size)]
        self.check(entry, region, b"")

    def verify_file(self, handle: IO[bytes], entry: str) -> None:
        """Check the open result file ``handle`` (reads its prefix and trailer)."""
        size = os.fstat(handle.fileno()).st_size
        tail = b""
        if size >= TRAILER_SIZE:
            handle.seek(size - TRAILER_SIZE)
            tail = handle.read(TRAILER_SIZE)
        body = body_size(size, tail)
        handle.seek(0)
        region = read_region(handle, body)
        handle.seek(0)
        self.check(entry, region, tail)


def body_size(size: int, tail: bytes) -> int:
    """How many bytes of a file of ``size`` bytes, ending in ``tail``, are its dump.

    A signed file ends with the trailer; an unsigned one is all dump.
    """
    if size >= TRAILER_SIZE and tail.endswith(TRAILER_MAGIC):
        return size - TRAILER_SIZE
    return size


def read_region(handle: IO[bytes], body_size: int) -> bytes:
    """The signed region of the file open as ``handle`` (positioned at 0)."""
    head = handle.read(min(HEAD_BYTES, body_size))
    length = code_region_length(head, body_size)
    rest = handle.read(length - len(head)) if length > len(head) else b""
    return head + rest
