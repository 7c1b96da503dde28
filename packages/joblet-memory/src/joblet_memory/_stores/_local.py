"""The ``'local'`` store backend: entries in a browsable folder tree.

The layout::

    <location>/joblet/.gitignore                     (created once, never overwritten)
    <location>/joblet/<func_id>/func_code.json       the function's code record
    <location>/joblet/<func_id>/<args_id>/output.pkl the result (joblet-persist file)
    <location>/joblet/<func_id>/<args_id>/metadata.json
    <location>/joblet/<func_id>/<args_id>/.lock      who computes (see _locking)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from typing import Any, ClassVar

from joblet_hash.names import unknown_name_message
from joblet_persist import Compress

from .._errors import SignatureError
from .._limits import CacheItemInfo
from .._warnings import warn
from ._base import (
    CACHE_FOLDER,
    FUNC_CODE_NAME,
    METADATA_NAME,
    CallId,
    StoreBackendBase,
    entry_name,
    metadata_text,
    parse_metadata,
)
from ._leftovers import Leftover, leftovers_under
from ._locking import entry_lock
from ._result_files import (
    OUTPUT_NAME,
    read_output,
    replace_from,
    write_signed,
    write_text,
)
from ._signing import Signer
from ._trust import why_not_private

GITIGNORE_TEXT = (
    "# Created by joblet-memory: everything in this folder is a cache.\n*\n"
)
# backend_options={'permissions': ...} of the local store: (folder, file) modes.
PERMISSIONS = {"private": (0o700, 0o600), "group": (0o770, 0o660)}


class FileSystemStoreBackend(StoreBackendBase):
    """The ``'local'`` backend: a browsable folder tree on a local or shared disk.

    ``backend_options``:

    ``lock`` : bool, default True
        When several callers miss the same entry at once, one computes and the
        others wait for its result. False: every caller computes (joblib's way).
    ``lock_timeout`` : float, default 600
        Seconds a caller waits for another's computation before computing itself.
    ``permissions`` : {'private', 'group'}, default 'private'
        Modes of what the store creates: 'private' folders 0700 and files 0600
        (only you can read or plant anything), 'group' 0770 and 0660 for a cache
        shared by a Unix group (give the folder the group and the setgid bit).

    Nothing is ever written or removed through a symbolic link found inside the
    cache folder, and result files that are symbolic links are not read.
    """

    OPTIONS: ClassVar[dict[str, Any]] = {
        **StoreBackendBase.OPTIONS,
        "permissions": "private",
    }

    def __init__(self) -> None:
        self.location = ""
        self.folder_mode, self.file_mode = PERMISSIONS["private"]
        self._root_ready = False
        self._not_private: str | None = None
        self._trust_checked = False

    def configure(
        self,
        location: str,
        verbose: int = 0,
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        options, unknown = self._take_options(backend_options, verbose)
        kind = "option of the 'local' store"
        for name in unknown:
            # joblib ignores options its store does not know; say so instead
            warn(f"{unknown_name_message(kind, name, options)}; it is ignored")
        if options["permissions"] not in PERMISSIONS:
            raise ValueError(
                f"backend option permissions={options['permissions']!r} is not one of "
                f"{sorted(PERMISSIONS)!r}"
            )
        self.folder_mode, self.file_mode = PERMISSIONS[options["permissions"]]
        self.location = os.path.join(os.fspath(location), CACHE_FOLDER)
        self._trust_checked = False

    # -- trust ----------------------------------------------------------------------

    def why_signed(self) -> str | None:
        """Why this store signs its entries, or None when it reads them as they are."""
        if self.signer.opted_in:
            return "a signing key was chosen (signing_key= or JOBLET_CACHE_KEY)"
        if self.folder_mode != PERMISSIONS["private"][0]:
            return "permissions='group': the cache is shared with a group"
        if not self._trust_checked:
            self._not_private = why_not_private(self.location)
            # judged again once the store has created its folder
            self._trust_checked = os.path.isdir(self.location)
        return self._not_private

    def entry_signer(self) -> Signer | None:
        return self.signer if self.why_signed() is not None else None

    # -- paths --------------------------------------------------------------------

    def _entry(self, call_id: CallId) -> str:
        return os.path.join(self.location, call_id[0], call_id[1])

    def item_location(self, call_id: CallId) -> str:
        return self._entry(call_id)

    def output_path(self, call_id: CallId) -> str:
        return os.path.join(self.location, call_id[0], call_id[1], OUTPUT_NAME)

    def _ensure_root(self) -> None:
        if self._root_ready:
            return
        parent = os.path.dirname(self.location)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._make_folder(self.location)
        try:
            fd = os.open(
                os.path.join(self.location, ".gitignore"),
                os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                self.file_mode,
            )
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                os.fchmod(handle.fileno(), self.file_mode)
                handle.write(GITIGNORE_TEXT)
        self._root_ready = True

    def _make_folder(self, path: str) -> None:
        """Create ``path`` with the store's mode; refuse a symbolic link."""
        try:
            os.mkdir(path, self.folder_mode)
        except FileExistsError:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise OSError(
                    f"refusing to write through the symbolic link {path} inside the "
                    "cache folder; remove it"
                ) from None
            return
        os.chmod(path, self.folder_mode)  # the umask may have removed group bits

    def _make_folders(self, relative: str) -> str:
        """Create ``<location>/<relative>`` one level at a time; return its path."""
        self._ensure_root()
        path = self.location
        for part in relative.split("/"):
            if part in ("", ".", ".."):
                raise ValueError(f"invalid cache path component in {relative!r}")
            path = os.path.join(path, part)
            self._make_folder(path)
        return path

    def _inside(self, path: str) -> bool:
        """Whether ``path`` resolves inside the cache folder (no planted link out)."""
        root = os.path.realpath(self.location)
        return os.path.realpath(path).startswith(root + os.sep)

    # -- entries ------------------------------------------------------------------

    def load_item(self, call_id: CallId, mmap_mode: str | None = None) -> Any:
        path = os.path.join(self.location, call_id[0], call_id[1], OUTPUT_NAME)
        try:
            return read_output(
                path, mmap_mode, self.entry_signer(), entry_name(call_id)
            )
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(
                f"Non-existing cache value (may have been cleared).\nFile {path} does not exist"
            ) from None

    def verify_item(self, call_id: CallId) -> str | None:
        path = self.output_path(call_id)
        signer = self.entry_signer()
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise KeyError(f"no cached value at {self._entry(call_id)}") from None
        with open(fd, "rb") as handle:
            if signer is None:
                return None  # a private folder: read as it is
            try:
                signer.verify_file(handle, entry_name(call_id))
            except SignatureError as error:
                return str(error)
        return None

    def find_leftovers(self, func_id: str = "") -> list[Leftover]:
        return leftovers_under(
            os.path.join(self.location, func_id) if func_id else self.location
        )

    def function_ids(self) -> list[str]:
        ids = set()
        for folder, _dirs, files in os.walk(self.location):
            if FUNC_CODE_NAME in files:
                ids.add(os.path.relpath(folder, self.location).replace(os.sep, "/"))
        ids.update(item.func_id for item in self.get_items())
        return sorted(ids)

    def touch_item(self, call_id: CallId) -> None:
        try:
            os.utime(
                os.path.join(self.location, call_id[0], call_id[1], METADATA_NAME),
                follow_symlinks=False,
            )
        except OSError:
            pass  # metadata not written yet, or a read-only cache

    def contains_item(self, call_id: CallId) -> bool:
        return os.path.exists(self.output_path(call_id))

    def dump_item(
        self,
        call_id: CallId,
        value: Any,
        metadata: dict[str, Any],
        compress: Compress = False,
    ) -> int:
        entry = self._make_folders(entry_name(call_id))
        output = os.path.join(entry, OUTPUT_NAME)
        signer = self.entry_signer()
        replace_from(
            output,
            lambda temporary: write_signed(
                value, temporary, compress, signer, entry_name(call_id)
            ),
            self.file_mode,
        )
        size = os.stat(output).st_size
        text = metadata_text(metadata, size)
        write_text(os.path.join(entry, METADATA_NAME), text, self.file_mode)
        return size + len(text)

    def get_metadata(self, call_id: CallId) -> dict[str, Any]:
        path = os.path.join(self._entry(call_id), METADATA_NAME)
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            raise KeyError(f"no metadata for {self._entry(call_id)}") from None
        return parse_metadata(text, path)

    def _remove_tree(self, path: str) -> None:
        if os.path.islink(path) or not self._inside(path):
            # A planted link: remove the link itself, never what it points to.
            with contextlib.suppress(OSError):
                if os.path.islink(path):
                    os.unlink(path)
            return
        # Rename first, so readers see the entry whole or gone, then delete.
        trash = os.path.join(
            os.path.dirname(path),
            f".trash-{os.path.basename(path)}-{uuid.uuid4().hex[:8]}",
        )
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        except OSError:
            trash = path
        shutil.rmtree(trash, ignore_errors=True)

    def clear_item(self, call_id: CallId) -> None:
        self._remove_tree(self._entry(call_id))

    def clear_path(self, func_id: str = "") -> None:
        if func_id:
            self._remove_tree(os.path.join(self.location, func_id))
            return
        try:
            names = os.listdir(self.location)
        except FileNotFoundError:
            return
        for name in names:
            if name == ".gitignore":
                continue
            path = os.path.join(self.location, name)
            if os.path.isdir(path):
                self._remove_tree(path)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)

    # -- code records ---------------------------------------------------------------

    def get_cached_func_code(self, func_id: str) -> str | None:
        try:
            with open(
                os.path.join(self.location, func_id, FUNC_CODE_NAME), encoding="utf-8"
            ) as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def store_cached_func_code(self, func_id: str, record: str) -> None:
        folder = self._make_folders(func_id)
        write_text(os.path.join(folder, FUNC_CODE_NAME), record, self.file_mode)

    # -- listing and locking -------------------------------------------------------

    def _entry_info(
        self, func_id: str, args_id: str, path: str
    ) -> CacheItemInfo | None:
        try:
            output = os.stat(os.path.join(path, OUTPUT_NAME))
        except OSError:
            return None
        size, last_access = output.st_size, output.st_mtime
        try:
            meta = os.stat(os.path.join(path, METADATA_NAME))
        except OSError:
            pass
        else:
            size += meta.st_size
            last_access = max(last_access, meta.st_mtime)
        return CacheItemInfo(func_id, args_id, path, size, last_access)

    def _walk(self, folder: str, func_id: str) -> Iterator[CacheItemInfo]:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            sub_id = f"{func_id}/{entry.name}" if func_id else entry.name
            if func_id and os.path.exists(os.path.join(entry.path, OUTPUT_NAME)):
                info = self._entry_info(func_id, entry.name, entry.path)
                if info is not None:
                    yield info
            else:
                yield from self._walk(entry.path, sub_id)

    def get_items(self, func_id: str | None = None) -> list[CacheItemInfo]:
        if func_id is None:
            return list(self._walk(self.location, ""))
        folder = os.path.join(self.location, func_id)
        items = []
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        for entry in entries:
            if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                info = self._entry_info(func_id, entry.name, entry.path)
                if info is not None:
                    items.append(info)
        return items

    def lock_item(
        self, call_id: CallId, ready: Callable[[], bool]
    ) -> ContextManager[str]:
        if not self.lock:
            return contextlib.nullcontext("unavailable")
        try:
            folder = self._make_folders(entry_name(call_id))
        except (OSError, ValueError):
            return contextlib.nullcontext("unavailable")
        return entry_lock(folder, self.lock_timeout, ready, self.file_mode)
