"""Leftovers of killed writers in a local cache, counted and swept.

A write killed with SIGKILL (or a power loss) leaves its temporary file behind,
inside the entry folder where no listing of entries sees it:

* ``.output.pkl.<...>.tmp``: a result being dumped (any hidden ``.tmp`` file);
* ``.tmp-<random>.json``: metadata or a code record being written;
* ``.trash-<name>-<random>``: an entry being removed (renamed, then deleted).

They count in the cache's size (``bytes_limit``, the CLI's ``list``), and
the ones older than :data:`LEFTOVER_SECONDS` (no live write takes that long
between two touches of its file) are removed by ``prune``,
``Memory.reduce_size``, each enforcement of the limits, and the first write of
each function in a process (which sweeps that function's folder).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass
from typing import Any

LEFTOVER_SECONDS = 300.0


@dataclass(frozen=True)
class Leftover:
    """One temporary file or trash folder found in the cache."""

    path: str
    size: int
    modified: float


def _is_leftover_name(name: str) -> bool:
    if name.startswith(".tmp-") and name.endswith(".json"):
        return True
    if name.startswith(".trash-"):
        return True
    # Every hidden ``.tmp`` file: the cache folder holds nothing but ours.
    return name.startswith(".") and name.endswith(".tmp")


def _tree_size(path: str) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def leftovers_under(root: str) -> list[Leftover]:
    """The leftovers found in the folder tree ``root`` (a local store's)."""
    found = []
    for folder, dirs, files in os.walk(root):
        for name in [*files, *dirs]:
            if not _is_leftover_name(name):
                continue
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            size = _tree_size(path) if name in dirs else info.st_size
            found.append(Leftover(path, size, info.st_mtime))
        dirs[:] = [name for name in dirs if not _is_leftover_name(name)]
    return found


def find_leftovers(store: Any, func_id: str = "") -> list[Leftover]:
    """The leftovers of ``store`` (or of one function's folder).

    Asks the store (:meth:`StoreBackendBase.find_leftovers`): only stores
    that keep temporaries beside their entries have any.
    """
    return list(store.find_leftovers(func_id))


def remove_stale(
    leftovers: list[Leftover], now: float | None = None, dry_run: bool = False
) -> list[Leftover]:
    """Remove the leftovers older than :data:`LEFTOVER_SECONDS`; return them."""
    now = time.time() if now is None else now
    removed = []
    for leftover in leftovers:
        if now - leftover.modified < LEFTOVER_SECONDS:
            continue  # perhaps a write in progress
        if not dry_run:
            try:
                if os.path.isdir(leftover.path) and not os.path.islink(leftover.path):
                    shutil.rmtree(leftover.path)
                else:
                    os.unlink(leftover.path)
            except FileNotFoundError:
                continue  # swept meanwhile by another process
            except OSError:
                continue
        removed.append(leftover)
    return removed


_swept: set[tuple[str, str]] = set()
_swept_lock = threading.Lock()


def sweep_function_once(store: Any, func_id: str) -> None:
    """At a function's first write in this process, sweep its folder."""
    key = (getattr(store, "location", ""), func_id)
    with _swept_lock:
        if key in _swept:
            return
        _swept.add(key)
    remove_stale(find_leftovers(store, func_id))
