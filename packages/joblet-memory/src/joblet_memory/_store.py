"""Store backends: where entries live. The base class and the local filesystem.

An **entry** is one cached call, addressed by ``call_id = (func_id, args_id)``:
``func_id`` is the function's path (``'pkg/module/func'``, see
:func:`joblet_memory._keys.function_id`) and ``args_id`` the 32-hex-digit hash
of its arguments and code. The local backend lays entries out as::

    <location>/joblet/.gitignore                     (created once, never overwritten)
    <location>/joblet/<func_id>/func_code.json       the function's code record
    <location>/joblet/<func_id>/<args_id>/output.pkl the result (joblet-persist file)
    <location>/joblet/<func_id>/<args_id>/metadata.json
    <location>/joblet/<func_id>/<args_id>/.lock      who computes (see _locking)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from typing import Any, ClassVar

from ._limits import CacheItemInfo, select_evictions
from ._locking import entry_lock
from ._serialize import OUTPUT_NAME, read_output, write_output
from ._signing import SignatureError, Signer

CallId = tuple[str, str]

CACHE_FOLDER = "joblet"
METADATA_NAME = "metadata.json"
FUNC_CODE_NAME = "func_code.json"
GITIGNORE_TEXT = (
    "# Created by joblet-memory: everything in this folder is a cache.\n*\n"
)
# backend_options={'permissions': ...} of the local store: (folder, file) modes.
PERMISSIONS = {"private": (0o700, 0o600), "group": (0o770, 0o660)}


def entry_name(call_id: CallId) -> str:
    """The name an entry's signature is bound to (``func_id/args_id``)."""
    return f"{call_id[0]}/{call_id[1]}"


class StoreBackendBase(ABC):
    """The interface ``Memory`` uses to keep entries; subclass it for new stores.

    Implement the abstract methods, then make the backend available by name with
    ``register_store_backend('mystore', MyStoreBackend)`` and use it with
    ``Memory(location, backend='mystore', backend_options={...})``.

    Contract, for every method taking ``call_id = (func_id, args_id)``:

    * :meth:`load_item` raises ``KeyError`` when there is no entry; any other
      exception means the entry is damaged: ``Memory`` warns, recomputes and
      calls :meth:`dump_item` again, which must replace it.
    * :meth:`dump_item` must be atomic: a concurrent :meth:`load_item` sees the
      old value, no value, or the whole new one; never part of one. It raises
      ``OSError`` when the store cannot be written (read-only, full); ``Memory``
      then warns and returns the result uncached.
    * Methods that record or list things (:meth:`touch_item`,
      :meth:`get_items`) must be cheap or rare: :meth:`touch_item` runs on every
      cache hit.

    Attributes
    ----------
    location : str
        Where the store keeps its data; shown in messages and in
        ``MemorizedResult`` reprs.
    """

    location: str = ""
    #: Signs what :meth:`dump_item` writes and checks what :meth:`load_item`
    #: reads; ``Memory`` sets it from ``signing_key=`` and ``trust_unsigned=``.
    signer: Signer = Signer()
    #: Whether ``make_store(location, backend)`` alone rebuilds this store.
    from_location_alone: bool = False

    @abstractmethod
    def configure(
        self,
        location: str,
        verbose: int = 0,
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        """Point the backend at ``location`` with its options; create nothing yet."""

    @abstractmethod
    def load_item(self, call_id: CallId, mmap_mode: str | None = None) -> Any:
        """The stored value; ``KeyError`` if absent."""

    @abstractmethod
    def dump_item(
        self,
        call_id: CallId,
        value: Any,
        metadata: dict[str, Any],
        compress: bool | int | str | tuple[str, int] = False,
    ) -> int:
        """Store ``value`` and its ``metadata`` atomically; return the bytes used."""

    @abstractmethod
    def contains_item(self, call_id: CallId) -> bool:
        """Whether a complete entry exists."""

    @abstractmethod
    def get_metadata(self, call_id: CallId) -> dict[str, Any]:
        """The metadata stored with the entry; ``KeyError`` if absent."""

    @abstractmethod
    def clear_item(self, call_id: CallId) -> None:
        """Remove one entry (no error if it is already gone)."""

    @abstractmethod
    def clear_path(self, func_id: str = "") -> None:
        """Remove a function's entries and code record; ``''`` removes everything."""

    @abstractmethod
    def get_cached_func_code(self, func_id: str) -> str | None:
        """The stored code record (JSON text) of ``func_id``, or None."""

    @abstractmethod
    def store_cached_func_code(self, func_id: str, record: str) -> None:
        """Store the code record of ``func_id`` (atomically)."""

    @abstractmethod
    def get_items(self, func_id: str | None = None) -> list[CacheItemInfo]:
        """Every complete entry (of one function when ``func_id`` is given)."""

    def item_location(self, call_id: CallId) -> str:
        """A human-readable address of the entry, for messages."""
        return f"{self.location}/{call_id[0]}/{call_id[1]}"

    def verify_item(self, call_id: CallId) -> str | None:
        """Why the entry would be refused (unsigned, tampered), or None if sound.

        Reads only what the signature covers; never unpickles. Backends that
        do not sign their entries return ``'not verifiable'``.
        """
        return "not verifiable"

    def function_ids(self) -> list[str]:
        """Every function with entries or a code record (for listings)."""
        return sorted({item.func_id for item in self.get_items()})

    def touch_item(self, call_id: CallId) -> None:
        """Record that the entry was just used (for least-recently-used eviction).

        The default records nothing, so eviction falls back to creation order.
        """
        return None

    def lock_item(
        self, call_id: CallId, ready: Callable[[], bool]
    ) -> ContextManager[str]:
        """Let one caller compute a missing entry while the others wait.

        The context yields ``'acquired'`` (compute), ``'ready'`` (the entry
        appeared meanwhile), ``'timeout'`` or ``'unavailable'`` (compute without
        waiting). The default has no locking: everyone computes.
        """
        return contextlib.nullcontext("unavailable")

    def enforce_limits(
        self,
        now: float,
        bytes_limit: int | None = None,
        items_limit: int | None = None,
        age_limit: float | None = None,
        items: list[CacheItemInfo] | None = None,
    ) -> list[CacheItemInfo]:
        """Remove least recently used entries until the limits hold; return them."""
        if items is None:
            items = self.get_items()
        evicted = select_evictions(items, now, bytes_limit, items_limit, age_limit)
        for item in evicted:
            self.clear_item((item.func_id, item.args_id))
        return evicted


def _write_atomically(path: str, text: str, file_mode: int = 0o600) -> None:
    folder = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if file_mode != 0o600:
                os.fchmod(handle.fileno(), file_mode)
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


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
        "lock": True,
        "lock_timeout": 600.0,
        "permissions": "private",
    }

    def __init__(self) -> None:
        self.location = ""
        self.lock = True
        self.lock_timeout = 600.0
        self.folder_mode, self.file_mode = PERMISSIONS["private"]
        self._root_ready = False

    def configure(
        self,
        location: str,
        verbose: int = 0,
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        options = dict(self.OPTIONS)
        for name, value in (backend_options or {}).items():
            if name not in options:
                raise ValueError(
                    f"unknown backend option {name!r} for the 'local' store; valid "
                    f"options are {sorted(options)!r}"
                )
            options[name] = value
        self.lock = bool(options["lock"])
        self.lock_timeout = float(options["lock_timeout"])
        if options["permissions"] not in PERMISSIONS:
            raise ValueError(
                f"backend option permissions={options['permissions']!r} is not one of "
                f"{sorted(PERMISSIONS)!r}"
            )
        self.folder_mode, self.file_mode = PERMISSIONS[options["permissions"]]
        self.location = os.path.join(os.fspath(location), CACHE_FOLDER)
        self.verbose = verbose

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
            return read_output(path, mmap_mode, self.signer, entry_name(call_id))
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(
                f"Non-existing cache value (may have been cleared).\nFile {path} does not exist"
            ) from None

    def verify_item(self, call_id: CallId) -> str | None:
        path = self.output_path(call_id)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise KeyError(f"no cached value at {self._entry(call_id)}") from None
        with open(fd, "rb") as handle:
            try:
                self.signer.verify_file(handle, entry_name(call_id))
            except SignatureError as error:
                return str(error)
        return None

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
        compress: bool | int | str | tuple[str, int] = False,
    ) -> int:
        entry = self._make_folders(entry_name(call_id))
        output = os.path.join(entry, OUTPUT_NAME)
        write_output(
            value, output, compress, self.signer, entry_name(call_id), self.file_mode
        )
        size = os.stat(output).st_size
        text = json.dumps({**metadata, "size": size}, indent=1, default=str)
        _write_atomically(os.path.join(entry, METADATA_NAME), text, self.file_mode)
        return size + len(text)

    def get_metadata(self, call_id: CallId) -> dict[str, Any]:
        path = os.path.join(self._entry(call_id), METADATA_NAME)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            raise KeyError(f"no metadata for {self._entry(call_id)}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} holds {type(data).__name__}, not a JSON object")
        return data

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
        _write_atomically(os.path.join(folder, FUNC_CODE_NAME), record, self.file_mode)

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(location={self.location!r})"


_STORE_BACKENDS: dict[str, type[StoreBackendBase]] = {"local": FileSystemStoreBackend}


def register_store_backend(backend_name: str, backend: type[StoreBackendBase]) -> None:
    """Make a store backend available to ``Memory(..., backend=backend_name)``.

    Parameters
    ----------
    backend_name : str
        The name given as ``Memory(backend=...)``.
    backend : subclass of StoreBackendBase
        The class; ``Memory`` instantiates it with no arguments, then calls
        :meth:`StoreBackendBase.configure`.
    """
    if not isinstance(backend_name, str):
        raise ValueError(f"store backend name must be a string, got {backend_name!r}")
    if not (isinstance(backend, type) and issubclass(backend, StoreBackendBase)):
        raise ValueError(
            f"store backend must be a subclass of StoreBackendBase, got {backend!r}"
        )
    _STORE_BACKENDS[backend_name] = backend


def _split_url(location: str) -> tuple[str, str]:
    """``('s3', 's3://b/p')`` for a URL, ``('', location)`` for a path."""
    scheme, sep, rest = location.partition("://")
    if (
        not sep
        or not scheme.replace("+", "").replace("-", "").isalnum()
        or len(scheme) < 2
    ):
        return "", location  # a path (``C:\\x`` has a one-letter "scheme")
    if scheme == "file":
        return "", rest
    return scheme, location


def is_url(location: str) -> bool:
    """Whether ``location`` names a remote (fsspec) store rather than a folder."""
    return bool(_split_url(location)[0])


def make_store(
    location: Any,
    backend: str,
    verbose: int,
    backend_options: dict[str, Any] | None,
    *,
    signer: Signer | None = None,
    local_cache: str | os.PathLike[str] | None = None,
) -> StoreBackendBase | None:
    """The configured backend for ``location`` (None when caching is off).

    A URL location (``'s3://bucket/prefix'``, ``'memory://x'``...) selects the
    ``'fsspec'`` backend unless another one is named; ``file://`` URLs are
    local folders. ``signer`` (keys and trust of unsigned entries) and
    ``local_cache`` (read-through folder of remote stores) come from
    ``Memory``'s constructor.
    """
    if location is None:
        return None
    if isinstance(location, StoreBackendBase):
        return location
    if not isinstance(location, (str, os.PathLike)):
        raise TypeError(
            f"location must be a str, a pathlib.Path, a store backend or None, got {location!r}"
        )
    location = os.fspath(location)
    scheme, location = _split_url(location)
    if backend == "fsspec" or (scheme and backend == "local"):
        from ._fsspec_store import FsspecStoreBackend

        cls: type[StoreBackendBase] = FsspecStoreBackend
    else:
        try:
            cls = _STORE_BACKENDS[backend]
        except KeyError:
            raise ValueError(
                f"unknown store backend {backend!r}; registered backends are "
                f"{sorted([*_STORE_BACKENDS, 'fsspec'])!r} (add one with "
                "register_store_backend)"
            ) from None
    store = cls()
    store.configure(location, verbose=verbose, backend_options=backend_options)
    if signer is not None:
        store.signer = signer
    if local_cache is not None and hasattr(store, "set_local_cache"):
        store.set_local_cache(os.fspath(local_cache))
    store.from_location_alone = (
        not backend_options
        and (signer is None or signer.is_default)
        and local_cache is None
    )
    return store


def store_to_pickle(store: StoreBackendBase) -> StoreBackendBase | None:
    """``store``, or None when its location and backend name rebuild it exactly.

    Lets a pickled ``MemorizedResult`` stay small for a plain local cache.
    """
    return None if store.from_location_alone else store
