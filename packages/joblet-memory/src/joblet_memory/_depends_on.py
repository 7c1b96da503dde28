"""``depends_on=[...]``: extra dependencies a cached function names explicitly.

* a path (``pathlib.Path`` or any ``os.PathLike``): a **file**, by the digest
  of its content. The file is checked on every call with one ``stat``, and
  re-hashed only when its size or modification time changed; its digest is
  part of the key like an argument (shown by ``explain`` as
  ``depends_on['data.csv']``);
* a callable: its code and everything it uses, as for the cached function;
* anything else: a value hashed with joblet-hash (``"model-v3"``, a tuple).

A plain ``str`` is a value, not a path: wrap paths in ``pathlib.Path``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from joblet_hash import FAST_HASH_NAME, UnhashableObjectError
from joblet_hash import hash as hash_value

CHUNK = 1 << 24


def file_digest(path: str) -> str:
    """The digest of a file's content, read in chunks."""
    digests = []
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digests.append(hash_value(chunk, FAST_HASH_NAME))
    return hash_value(digests, FAST_HASH_NAME)


class WatchedFile:
    """A file dependency: its digest, recomputed when its stat changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stat: tuple[int, int] | None = None
        self._digest = ""
        self._lock = threading.Lock()

    def digest(self) -> str:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{self.path!r}, listed in depends_on, does not exist"
            ) from None
        stat = (info.st_mtime_ns, info.st_size)
        with self._lock:
            if stat != self._stat:
                self._digest = file_digest(self.path)
                self._stat = stat
            return self._digest


class DependsOn:
    """The ``depends_on`` list, split into watched files and static dependencies."""

    def __init__(self, items: Iterable[Any] | None) -> None:
        if items is None:
            items = ()
        if isinstance(items, (str, bytes, os.PathLike)) or not isinstance(
            items, Iterable
        ):
            raise TypeError(
                f"depends_on must be a list of files, functions or values, got {items!r}"
            )
        self.files: list[WatchedFile] = []
        self.static: list[Any] = []
        for item in items:
            if isinstance(item, os.PathLike):
                self.files.append(WatchedFile(os.fspath(item)))
                continue
            if not callable(item):
                try:
                    hash_value(item, FAST_HASH_NAME)
                except UnhashableObjectError as error:
                    raise TypeError(
                        f"depends_on lists {item!r}, which cannot be hashed ({error})"
                    ) from None
            self.static.append(item)

    def file_digests(self) -> dict[str, str] | None:
        """``{path: digest}`` of the files now, or None when there are none."""
        if not self.files:
            return None
        return {watched.path: watched.digest() for watched in self.files}
