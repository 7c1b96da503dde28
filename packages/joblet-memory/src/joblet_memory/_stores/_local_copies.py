"""A local read-through folder for memory-mapping results kept in an object store.

An object cannot be memory-mapped, so ``mmap_mode`` on a remote store downloads
the result file once into a local folder and maps it from there. A repeated hit
on the same host asks the store only for the object's tag (its ETag, else size
and modification time, one HEAD request) and maps the local copy when the tag
is unchanged. Local copies are verified like any entry before they are loaded;
the folder can be deleted at any time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from typing import Any

from .._user_folders import user_folder
from ._result_files import read_output, replace_from, write_text
from ._signing import Signer


def default_folder() -> str:
    """``$XDG_CACHE_HOME/joblet/object-store`` (``~/.cache/...`` by default)."""
    return os.path.join(user_folder("cache"), "object-store")


def object_tag(info: dict[str, Any]) -> str:
    """What identifies one version of a stored object: ETag, else size and mtime."""
    etag = info.get("ETag") or info.get("etag") or info.get("md5Hash")
    if etag:
        return f"etag:{str(etag).strip(chr(34))}"
    stamp = info.get("LastModified") or info.get("mtime") or info.get("created")
    return f"size:{info.get('size')}:mtime:{stamp}"


class LocalCopies:
    """Local copies of the result files of one remote store.

    Parameters
    ----------
    folder : str or None
        The local folder; None: :func:`default_folder`. Each remote store gets
        its own sub-folder named by a hash of its URL.
    remote : str
        The remote store's URL (names the sub-folder).
    """

    def __init__(self, folder: str | None, remote: str) -> None:
        self.base = os.path.join(
            folder or default_folder(),
            hashlib.sha256(remote.encode("utf-8")).hexdigest()[:16],
        )

    def path(self, entry: str) -> str:
        return os.path.join(self.base, *entry.split("/"), "output.pkl")

    def _tag_path(self, entry: str) -> str:
        return self.path(entry) + ".tag"

    def _read_tag(self, entry: str) -> str | None:
        try:
            with open(self._tag_path(entry), encoding="utf-8") as handle:
                return handle.read()
        except OSError:
            return None

    def _write_tag(self, entry: str, tag: str) -> None:
        write_text(self._tag_path(entry), tag)

    def _prepare(self, entry: str) -> str:
        local = self.path(entry)
        os.makedirs(os.path.dirname(local), mode=0o700, exist_ok=True)
        return local

    def load(
        self,
        fs: Any,
        remote_path: str,
        entry: str,
        mmap_mode: str,
        signer: Signer,
    ) -> Any:
        """The value of the remote file, memory-mapped from its local copy."""
        info = fs.info(remote_path)  # FileNotFoundError when the entry is gone
        tag = object_tag(info)
        local = self.path(entry)
        if self._read_tag(entry) != tag or not os.path.exists(local):
            local = self._prepare(entry)
            replace_from(local, lambda temporary: fs.get_file(remote_path, temporary))
            self._write_tag(entry, tag)
        return read_output(local, mmap_mode, signer, entry)

    def adopt(self, entry: str, written: str, tag: str) -> None:
        """Keep the file just uploaded as the local copy (saves a download)."""
        local = self._prepare(entry)
        os.replace(written, local)
        self._write_tag(entry, tag)

    def forget(self, entry: str = "") -> None:
        """Remove the local copy of one entry, or of a whole function/store."""
        if not entry:
            shutil.rmtree(self.base, ignore_errors=True)
            return
        target = os.path.join(self.base, *entry.split("/"))
        shutil.rmtree(target, ignore_errors=True)
