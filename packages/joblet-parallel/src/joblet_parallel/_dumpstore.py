"""Files of large arguments written for the workers, reused while they still match.

A :class:`DumpStore` remembers, for one sharing scope, which data it already
wrote and where:

* the pool's store (calls outside a ``with Parallel(...)`` block on the reused
  default pool) lives as long as that pool; a block's store lives as long as the
  block;
* an entry is found again by its key (the identity of an array, the address and
  size of a protocol-5 buffer) and served only if the data's content fingerprint
  (xxh3) still equals the one taken when the file was written:
  data changed in place is written again, never served stale;
* a file is removed when the array it holds is freed, when its data changed, when
  a buffer was not sent by the last call (buffers have no owner to watch), and
  with the whole folder when the pool or block ends or at interpreter exit.

Removal waits until no call uses the store: a task already sent may still have to
open the file.
"""

from __future__ import annotations

import functools
import os
import threading
import weakref
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from ._array_bytes import array_chunks, file_strides
from ._tempfolders import choose_temp_folder, make_private_folder, remove_folder

FILE_SUFFIX = ".mmap"


def fingerprint(data: Any) -> str:
    """Content fingerprint of an array or a bytes-like buffer: xxh3-128 of its bytes.

    xxhash is called directly rather than through ``joblet_hash.hash``: the
    canonical hash of an array (chunked, layout-independent) takes twice as long
    on 200 MB (21 ms against 9 ms here), and this runs on every call that sends
    an already written array. The bytes are hashed in the layout they are
    written in, with the dtype, shape and strides that describe them.
    """
    import xxhash

    hasher = xxhash.xxh3_128()
    if isinstance(data, memoryview):
        hasher.update(data)
    else:
        hasher.update(repr((data.dtype.str, data.shape, file_strides(data))).encode())
        for chunk in array_chunks(data):
            hasher.update(chunk)
    return hasher.hexdigest()


class _Entry:
    __slots__ = ("fingerprint", "last_call", "owner", "path")

    def __init__(self, path: Path, fingerprint: str, owner: Any, call: int) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.owner = owner  # weak reference to the array, or None for a buffer
        self.last_call = call


class DumpStore:
    """The files written for workers in one scope (a pool, or a ``with`` block).

    Parameters
    ----------
    temp_folder : str or path, optional
        Parent of the store's private folder (see ``choose_temp_folder``).
    """

    def __init__(self, temp_folder: str | os.PathLike[str] | None) -> None:
        self.temp_folder = temp_folder
        self.folder: Path | None = None
        # Reentrant: a weakref callback may run while this thread holds the lock.
        self._lock = threading.RLock()
        self._entries: dict[Hashable, _Entry] = {}
        self._pending: list[Path] = []  # to remove once no call uses the store
        self._users = 0
        self._call = 0

    # -- calls using the store ---------------------------------------------------------
    def acquire(self) -> None:
        """A call (or block) starts using the store."""
        with self._lock:
            self._users += 1

    def start_call(self) -> None:
        """A call starts: forget buffers the previous call did not send."""
        with self._lock:
            self._call += 1
            for key, entry in list(self._entries.items()):
                if entry.owner is None and entry.last_call < self._call - 1:
                    del self._entries[key]
                    self._pending.append(entry.path)
            if self._users <= 1:  # no other call may still read a removed file
                self._remove_pending(in_background=True)

    def release(self) -> None:
        """A call (or block) stops using the store."""
        with self._lock:
            self._users -= 1
            if self._users <= 0:
                self._users = 0
                self._remove_pending()

    # -- entries ------------------------------------------------------------------------
    def find(self, key: Hashable, owner: Any, content: str) -> Path | None:
        """The file already holding this data, if its content is unchanged."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            alive = entry.owner is None or entry.owner() is owner
            if alive and entry.fingerprint == content:
                entry.last_call = self._call
                return entry.path
            del self._entries[key]
            # Changed since an earlier call wrote it (the first look of a call):
            # only other calls running now may still read the old file.
            self._retire(entry.path, users_done=1)
            return None

    def add(
        self,
        key: Hashable,
        owner: Any,
        content: str,
        write: Callable[[Path], None],
    ) -> Path:
        """Write new data with ``write(path)`` and remember it under ``key``.

        ``owner`` (an object supporting weak references, or None) is watched: its
        file is removed when it is freed.
        """
        with self._lock:
            if self.folder is None:
                self.folder = make_private_folder(self.temp_folder)
            path = self.folder / f"{os.urandom(12).hex()}{FILE_SUFFIX}"
            write(path)
            reference = None
            if owner is not None:
                reference = weakref.ref(owner, self._forget_callback(key))
            self._entries[key] = _Entry(path, content, reference, self._call)
            return path

    def _forget_callback(self, key: Hashable) -> Callable[[Any], None]:
        def forget(reference: Any) -> None:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry.owner is reference:
                    del self._entries[key]
                    self._retire(entry.path)

        return forget

    def forget(self, keys: list[Hashable]) -> None:
        """Forget these entries (their files go once no call uses them)."""
        with self._lock:
            for key in keys:
                entry = self._entries.pop(key, None)
                if entry is not None:
                    self._retire(entry.path)

    def clear(self) -> None:
        """Forget every entry (their files go once no call uses them)."""
        with self._lock:
            for entry in self._entries.values():
                self._retire(entry.path)
            self._entries.clear()

    def close(self) -> None:
        """Remove every file and the folder now (end of the pool or block)."""
        with self._lock:
            folder, self.folder = self.folder, None
            self._entries.clear()
            self._pending.clear()
        if folder is not None:
            remove_folder(folder)

    # -- removal --------------------------------------------------------------------------
    def _retire(self, path: Path, users_done: int = 0) -> None:
        """Remove ``path`` once at most ``users_done`` calls use the store."""
        if self._users <= users_done:
            _unlink(path)
        else:
            self._pending.append(path)
        if self._users == 0:
            self._remove_pending()

    def _remove_pending(self, in_background: bool = False) -> None:
        """Remove the files no call reads any more (and the folder once empty).

        ``in_background`` (at the start of a call, for files an earlier call
        wrote): a helper thread unlinks them while the call runs, since
        unlinking a large file in shared memory frees its pages then and there
        (about 30 ms for 200 MB here), a cost that belongs to no task of the call.
        """
        pending, self._pending = self._pending, []
        folder = None
        if not self._entries and self.folder is not None:
            folder, self.folder = self.folder, None  # a later write makes a new one
        if in_background and (pending or folder is not None):
            threading.Thread(
                target=_remove, args=(pending, folder), daemon=True, name="joblet-rm"
            ).start()
        else:
            _remove(pending, folder)


def _remove(paths: list[Path], folder: Path | None) -> None:
    for path in paths:
        _unlink(path)
    if folder is not None:
        remove_folder(folder)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# --- one store per pool and base folder -------------------------------------------------

_pool_stores: weakref.WeakKeyDictionary[Any, dict[str, DumpStore]] = (
    weakref.WeakKeyDictionary()
)
_pool_stores_lock = threading.Lock()


def _close_stores(stores: dict[str, DumpStore]) -> None:
    for store in list(stores.values()):
        store.close()


def store_for_pool(pool: Any, temp_folder: str | os.PathLike[str] | None) -> DumpStore:
    """The store shared by the calls on ``pool`` that write under ``temp_folder``.

    Its files are removed when the pool is gone (or at interpreter exit).
    """
    base = str(choose_temp_folder(temp_folder))
    with _pool_stores_lock:
        stores = _pool_stores.get(pool)
        if stores is None:
            stores = _pool_stores[pool] = {}
            weakref.finalize(pool, _close_stores, stores)
            # Our executor's pools say when they shut down: remove the files then,
            # without waiting for the pool object to be collected.
            on_shutdown = getattr(pool, "on_shutdown", None)
            if isinstance(on_shutdown, list):
                on_shutdown.append(functools.partial(_close_stores, stores))
        store = stores.get(base)
        if store is None:
            store = stores[base] = DumpStore(base)
        return store
