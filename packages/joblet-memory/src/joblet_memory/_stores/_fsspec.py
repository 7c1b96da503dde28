"""The ``'fsspec'`` backend: a cache in an object store (S3, GCS, Azure, memory://).

Selected by a URL location (``Memory('s3://bucket/prefix')``) or by
``Memory(location, backend='fsspec')``. The layout is the local one::

    <url>/joblet/<func_id>/func_code.json
    <url>/joblet/<func_id>/<args_id>/output.pkl     the signed result
    <url>/joblet/<func_id>/<args_id>/metadata.json
    <url>/joblet/<func_id>/<args_id>/access         last access (LRU), tiny
    <url>/joblet/<func_id>/<args_id>/lease          who computes (see _leases)

``output.pkl`` is the entry: it is uploaded with one put, or a multipart upload
that the store completes only after its last part, so a reader sees the whole
file or none, and an upload killed midway leaves nothing that is served. The
result is written to a local temporary file first (and signed there).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from typing import Any, ClassVar

from joblet_persist import (
    Compress,
    code_region_length,
    sweep_temporaries,
    temporary_name,
)

from .._errors import SignatureError
from .._limits import CacheItemInfo
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
from ._leases import hold_lease
from ._local_copies import LocalCopies, object_tag
from ._result_files import OUTPUT_NAME, load_bytes, write_signed
from ._signing import HEAD_BYTES, TRAILER_MAGIC, TRAILER_SIZE

ACCESS_NAME = "access"
LEASE_NAME = "lease"
# A result is written to the temporary folder, then uploaded; its name there.
UPLOAD_NAME = "joblet-upload-output.pkl"
# A client killed mid-upload leaves its file behind; one older than this whose
# writer is gone is removed (age too: a writer in another pid namespace
# sharing the folder looks gone).
UPLOAD_SWEEP_AGE = 3600.0
_uploads_swept = False


def sweep_uploads_once() -> list[str]:
    """Remove, once per process, the uploads that killed clients left behind."""
    global _uploads_swept
    if _uploads_swept:
        return []
    _uploads_swept = True
    removed = []
    folder = tempfile.gettempdir()
    for path, _size in sweep_temporaries(folder, target=UPLOAD_NAME, remove=False):
        with contextlib.suppress(OSError):
            if time.time() - os.stat(path).st_mtime > UPLOAD_SWEEP_AGE:
                os.unlink(path)
                removed.append(path)
    return removed


EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "fsspec", "gcs": "fsspec"}
# Filesystems whose directory listings fsspec would otherwise cache: another
# process's writes must be seen.
_LISTING_CACHE = ("s3", "s3a", "gs", "gcs", "abfs", "az", "adl")
# Results at least this large are kept as the local copy after their upload.
_ADOPT_MIN = 1 << 20


def _filesystem(location: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    protocol = location.split("://", 1)[0] if "://" in location else "file"
    try:
        import fsspec
    except ImportError:
        raise ImportError(
            f"Memory({location!r}) needs fsspec: pip install 'joblet-memory[fsspec]'"
            + (" (or [s3] for S3)" if protocol in ("s3", "s3a") else "")
        ) from None
    options = dict(storage_options)
    if protocol in _LISTING_CACHE:
        options.setdefault("use_listings_cache", False)
    try:
        fs, path = fsspec.core.url_to_fs(location, **options)
        return fs, str(path)
    except ImportError as error:
        extra = EXTRAS.get(protocol, "fsspec")
        raise ImportError(
            f"Memory({location!r}) needs the fsspec driver of {protocol}:// "
            f"({error}); pip install 'joblet-memory[{extra}]'"
        ) from None


def _timestamp(info: dict[str, Any]) -> float:
    for name in ("LastModified", "mtime", "created", "last_modified", "updated"):
        value = info.get(name)
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return datetime.datetime.fromisoformat(value).timestamp()
    return 0.0


class FsspecStoreBackend(StoreBackendBase):
    """A cache in any fsspec filesystem; meant for object stores.

    ``backend_options`` are the filesystem's own options (for S3: ``key``,
    ``secret``, ``endpoint_url``, ``client_kwargs``, ``profile``... credentials
    also come from fsspec's usual places), plus:

    ``lock`` : bool, default True
        One process, on any host, computes a missing entry; the others wait
        (a lease object, see :mod:`joblet_memory._stores._leases`).
    ``lock_timeout`` : float, default 600
        Seconds a caller waits for another's computation before computing.
    ``lease_duration`` : float, default 60
        Seconds a lease outlives its holder's last renewal: how long waiters
        wait for a holder that died before taking over.
    ``touch_interval`` : float, default 60
        A hit records the entry's last access (one small put) at most this
        often per process and entry.
    ``local_cache`` : str, optional
        The local read-through folder for ``mmap_mode`` (also settable as
        ``Memory(local_cache=...)``).
    """

    OPTIONS: ClassVar[dict[str, Any]] = {
        **StoreBackendBase.OPTIONS,
        "lease_duration": 60.0,
        "touch_interval": 60.0,
        "local_cache": None,
    }

    def __init__(self) -> None:
        self.location = ""
        self.fs: Any = None
        self.root = ""
        self._touched: dict[CallId, float] = {}

    def configure(
        self,
        location: str,
        verbose: int = 0,
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        # Options other than the backend's own are the filesystem's.
        options, storage = self._take_options(backend_options, verbose)
        self.lease_duration = float(options["lease_duration"])
        self.touch_interval = float(options["touch_interval"])
        self._storage_options = storage
        self._base_url = os.fspath(location).rstrip("/")
        self.fs, path = _filesystem(self._base_url, storage)
        self.root = f"{path.rstrip('/')}/{CACHE_FOLDER}"
        self.location = f"{self._base_url}/{CACHE_FOLDER}"
        self.local_copies = LocalCopies(options["local_cache"], self.location)

    def set_local_cache(self, folder: str | None) -> None:
        """Use ``folder`` for local copies (``Memory(local_cache=...)``)."""
        if folder is not None:
            self.local_copies = LocalCopies(os.fspath(folder), self.location)

    # The filesystem object pickles as its options (fsspec's own rule); the
    # memo of recent touches stays in this process.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_touched"] = {}
        return state

    # -- paths --------------------------------------------------------------------

    def _path(self, call_id: CallId, name: str = "") -> str:
        entry = f"{self.root}/{call_id[0]}/{call_id[1]}"
        return f"{entry}/{name}" if name else entry

    # -- entries ------------------------------------------------------------------

    def load_item(self, call_id: CallId, mmap_mode: str | None = None) -> Any:
        output = self._path(call_id, OUTPUT_NAME)
        try:
            if mmap_mode is not None:
                return self.local_copies.load(
                    self.fs, output, entry_name(call_id), mmap_mode, self.signer
                )
            data = self.fs.cat_file(output)
        except FileNotFoundError:
            raise KeyError(
                f"no cached value at {self.item_location(call_id)}"
            ) from None
        return load_bytes(data, self.signer, entry_name(call_id))

    def dump_item(
        self,
        call_id: CallId,
        value: Any,
        metadata: dict[str, Any],
        compress: Compress = False,
    ) -> int:
        output = self._path(call_id, OUTPUT_NAME)
        sweep_uploads_once()
        written = os.path.join(tempfile.gettempdir(), temporary_name(UPLOAD_NAME))
        try:
            write_signed(value, written, compress, self.signer, entry_name(call_id))
            size = os.path.getsize(written)
            self.fs.put_file(written, output)
            text = metadata_text(metadata, size)
            self.fs.pipe_file(self._path(call_id, METADATA_NAME), text.encode("utf-8"))
            if size >= _ADOPT_MIN and not compress:
                with contextlib.suppress(OSError):
                    tag = object_tag(self.fs.info(output))
                    self.local_copies.adopt(entry_name(call_id), written, tag)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(written)
        return size + len(text)

    def verify_item(self, call_id: CallId) -> str | None:
        output = self._path(call_id, OUTPUT_NAME)
        try:
            size = int(self.fs.info(output)["size"])
        except FileNotFoundError:
            raise KeyError(
                f"no cached value at {self.item_location(call_id)}"
            ) from None
        # Range reads: the trailer, then the signed region only.
        tail = self.fs.cat_file(output, start=max(0, size - TRAILER_SIZE), end=size)
        body_size = size - TRAILER_SIZE if tail.endswith(TRAILER_MAGIC) else size
        head = self.fs.cat_file(output, start=0, end=min(HEAD_BYTES, body_size))
        length = code_region_length(head, body_size)
        region = (
            self.fs.cat_file(output, start=0, end=length)
            if length > len(head)
            else head
        )
        try:
            self.signer.check(entry_name(call_id), region, tail[-TRAILER_SIZE:])
        except SignatureError as error:
            return str(error)
        return None

    def contains_item(self, call_id: CallId) -> bool:
        return bool(self.fs.exists(self._path(call_id, OUTPUT_NAME)))

    def get_metadata(self, call_id: CallId) -> dict[str, Any]:
        try:
            text = self.fs.cat_file(self._path(call_id, METADATA_NAME))
        except FileNotFoundError:
            raise KeyError(f"no metadata for {self.item_location(call_id)}") from None
        return parse_metadata(text, self.item_location(call_id))

    def touch_item(self, call_id: CallId) -> None:
        now = time.time()
        if now - self._touched.get(call_id, 0.0) < self.touch_interval:
            return
        self._touched[call_id] = now
        with contextlib.suppress(Exception):  # a read-only bucket: no LRU record
            self.fs.pipe_file(self._path(call_id, ACCESS_NAME), repr(now).encode())

    def _remove(self, path: str, *, recursive: bool) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(path, recursive=recursive)

    def clear_item(self, call_id: CallId) -> None:
        # The output first: the entry disappears in one step, then the rest.
        self._remove(self._path(call_id, OUTPUT_NAME), recursive=False)
        self._remove(self._path(call_id), recursive=True)
        self._touched.pop(call_id, None)
        self.local_copies.forget(entry_name(call_id))

    def clear_path(self, func_id: str = "") -> None:
        self._remove(f"{self.root}/{func_id}" if func_id else self.root, recursive=True)
        self.local_copies.forget(func_id)
        self._touched.clear()

    # -- code records -------------------------------------------------------------

    def get_cached_func_code(self, func_id: str) -> str | None:
        try:
            data: bytes = self.fs.cat_file(f"{self.root}/{func_id}/{FUNC_CODE_NAME}")
        except FileNotFoundError:
            return None
        return data.decode("utf-8")

    def store_cached_func_code(self, func_id: str, record: str) -> None:
        path = f"{self.root}/{func_id}/{FUNC_CODE_NAME}"
        self.fs.pipe_file(path, record.encode("utf-8"))

    # -- listing and locking ------------------------------------------------------

    def get_items(self, func_id: str | None = None) -> list[CacheItemInfo]:
        base = f"{self.root}/{func_id}" if func_id else self.root
        try:
            found: dict[str, dict[str, Any]] = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return []
        files: dict[str, dict[str, dict[str, Any]]] = {}
        for path, info in found.items():
            folder, _, name = path.rstrip("/").rpartition("/")
            files.setdefault(folder, {})[name] = info
        root = (
            self.root
        )  # url_to_fs gave it without its protocol, as find() names files
        items = []
        for folder, names in files.items():
            if OUTPUT_NAME not in names or not folder.startswith(root + "/"):
                continue
            item_func_id, _, args_id = folder[len(root) + 1 :].rpartition("/")
            if func_id is not None and item_func_id != func_id:
                continue
            parts = [names[n] for n in (OUTPUT_NAME, METADATA_NAME) if n in names]
            stamps = [_timestamp(info) for info in parts]
            if ACCESS_NAME in names:
                stamps.append(_timestamp(names[ACCESS_NAME]))
            size = sum(int(info.get("size") or 0) for info in parts)
            url = f"{self.location}/{item_func_id}/{args_id}"
            items.append(CacheItemInfo(item_func_id, args_id, url, size, max(stamps)))
        return items

    def function_ids(self) -> list[str]:
        """Every function with entries or a code record (for the CLI)."""
        root = (
            self.root
        )  # url_to_fs gave it without its protocol, as find() names files
        try:
            paths = self.fs.find(self.root)
        except FileNotFoundError:
            return []
        ids = {
            path[len(root) + 1 :].rpartition("/")[0]
            for path in paths
            if path.endswith("/" + FUNC_CODE_NAME)
        }
        ids.update(item.func_id for item in self.get_items())
        return sorted(ids)

    def lock_item(
        self, call_id: CallId, ready: Callable[[], bool]
    ) -> ContextManager[str]:
        if not self.lock:
            return contextlib.nullcontext("unavailable")
        return hold_lease(
            self.fs,
            self._path(call_id, LEASE_NAME),
            self.lease_duration,
            self.lock_timeout,
            ready,
        )
