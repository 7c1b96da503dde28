"""Large numpy arguments shared with process workers as memory maps, not copies.

While a task is pickled for a process worker, every numpy array goes through
:class:`ArrayMemmapper`:

* an array backed by a ``numpy.memmap`` (the memmap itself, or any view or slice
  of it) travels as a reference (file, byte range, dtype, shape, strides) and is
  reopened as a ``numpy.memmap`` in the worker: no copy, whatever its size; a
  memmap opened ``'w+'`` or ``'r+'`` is reopened ``'r+'`` so workers can write
  results in place;
* an array of at least ``max_nbytes`` bytes is dumped once (with joblet-persist,
  raw and aligned) into a private temporary folder and reopened in the worker
  with ``mmap_mode``; the same array object passed to many tasks is dumped once
  per call, or once per ``with Parallel(...)`` block;
* anything else is pickled as usual (protocol 5, buffers out of band).

Arrays are recognised by identity, as joblib does: an array changed in place
after it was dumped is not dumped again within the same call or ``with`` block.

Temporary folders (mode 0700, files 0600) are removed when the call (or the
``with`` block) ends, on error and Ctrl-C, at interpreter exit, and, for folders
left by a process that died, by the next process that creates one.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

# shutil, tempfile and uuid are imported where used: this module is imported with
# joblet_parallel, and `import joblet_parallel` must stay cheap.

FOLDER_PREFIX = "joblet_memmapping_"
#: Environment variable naming the folder for temporary memmaps.
TEMP_FOLDER_ENV = "JOBLET_TEMP_FOLDER"
SHARED_MEMORY_FOLDER = "/dev/shm"
SHARED_MEMORY_MIN_FREE = 2 * 1024**3

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([KMGT]?)B?\s*$", re.IGNORECASE)


def parse_max_nbytes(value: int | float | str | None) -> int | None:
    """Bytes from ``max_nbytes``: an int, a float (``1e6``), ``'10M'``, ``'1G'`` or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"max_nbytes must be a size, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"max_nbytes must be >= 0, got {value!r}")
        return int(value)
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            return int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    raise ValueError(
        f"max_nbytes must be a number of bytes, a string such as '1M', '10M' or '1G', "
        f"or None to disable memmapping; got {value!r}"
    )


def choose_temp_folder(temp_folder: str | os.PathLike[str] | None) -> Path:
    """Where to put temporary memmaps: argument, environment, /dev/shm, system temp."""
    if temp_folder is not None:
        return Path(temp_folder)
    import shutil
    import tempfile

    from_env = os.environ.get(TEMP_FOLDER_ENV)
    if from_env:
        return Path(from_env)
    shm = Path(SHARED_MEMORY_FOLDER)
    try:
        if (
            shm.is_dir()
            and os.access(shm, os.W_OK)
            and shutil.disk_usage(shm).free >= SHARED_MEMORY_MIN_FREE
        ):
            return shm
    except OSError:
        pass
    return Path(tempfile.gettempdir())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_folders(base: Path) -> None:
    """Remove memmap folders of ours whose owning process is gone."""
    import shutil

    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for entry in entries:
        match = re.match(rf"^{FOLDER_PREFIX}(\d+)_", entry.name)
        if not match or _pid_alive(int(match.group(1))):
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)


# Folders of this process still in use, removed at exit if nothing else did.
_live_folders: set[Path] = set()
_live_lock = threading.Lock()


@atexit.register
def _remove_live_folders() -> None:
    import shutil

    with _live_lock:
        folders = list(_live_folders)
        _live_folders.clear()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


class ArrayMemmapper:
    """Reducers that turn numpy arrays into memmap references while pickling.

    One instance serves one call, or one ``with Parallel(...)`` block.

    Parameters
    ----------
    max_nbytes : int, str or None
        Arrays at least this large are dumped and memory-mapped; None disables
        dumping (existing memmaps still travel as references).
    mmap_mode : {'r', 'r+', 'c'}
        How workers open dumped arrays ('w+' means 'r+': the file is never
        truncated).
    temp_folder : str or path, optional
        Parent folder of the private temporary folder; see
        :func:`choose_temp_folder` for the default.
    """

    def __init__(
        self,
        max_nbytes: int | float | str | None,
        mmap_mode: str | None,
        temp_folder: str | os.PathLike[str] | None,
    ) -> None:
        self.max_nbytes, self.mmap_mode, self.temp_folder = self.normalize(
            max_nbytes, mmap_mode, temp_folder
        )
        self.folder: Path | None = None
        self._lock = threading.Lock()
        # id(array) -> (weak reference to the array, file name)
        self._dumped: dict[int, tuple[Any, str]] = {}

    @staticmethod
    def normalize(
        max_nbytes: int | float | str | None,
        mmap_mode: str | None,
        temp_folder: str | os.PathLike[str] | None,
    ) -> tuple[int | None, str, str | os.PathLike[str] | None]:
        """The settings as this class keeps them ('10M' -> bytes, 'w+' -> 'r+')."""
        mode = "r+" if mmap_mode == "w+" else (mmap_mode or "r")
        return parse_max_nbytes(max_nbytes), mode, temp_folder

    def settings(self) -> tuple[Any, ...]:
        return (self.max_nbytes, self.mmap_mode, self.temp_folder)

    def reducers(self) -> dict[type, Any]:
        """``{type: reduce function}`` for the task pickler; empty without numpy."""
        numpy = sys.modules.get("numpy")
        if numpy is None:  # no array can exist in the tasks
            return {}
        return {numpy.ndarray: self.reduce, numpy.memmap: self.reduce}

    def reduce(self, array: Any) -> Any:
        reference = memmap_reference(array)
        if reference is not None:
            return open_memmap_reference, reference
        if (
            self.max_nbytes is None
            or array.nbytes < self.max_nbytes
            or array.dtype.hasobject
            or array.size == 0
        ):
            return _default_reduce(array)
        return open_dumped_array, (self._dump(array), self.mmap_mode)

    def _dump(self, array: Any) -> str:
        with self._lock:
            known = self._dumped.get(id(array))
            if known is not None and known[0]() is array:
                return known[1]
            import uuid

            folder = self._ensure_folder()
            path = folder / f"{uuid.uuid4().hex}.joblet"
            from joblet_persist import dump

            dump(array, path)
            os.chmod(path, 0o600)
            key = id(array)
            self._dumped[key] = (
                weakref.ref(array, lambda _: self._forget(key)),
                str(path),
            )
            return str(path)

    def _forget(self, key: int) -> None:
        # The array was garbage collected: its id may be reused by another array.
        self._dumped.pop(key, None)

    def _ensure_folder(self) -> Path:
        if self.folder is None:
            import uuid

            base = choose_temp_folder(self.temp_folder)
            base.mkdir(parents=True, exist_ok=True)
            remove_stale_folders(base)
            folder = base / f"{FOLDER_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}"
            folder.mkdir(mode=0o700)
            with _live_lock:
                _live_folders.add(folder)
            self.folder = folder
        return self.folder

    def cleanup(self) -> None:
        """Remove the temporary folder and forget what was dumped."""
        with self._lock:
            folder, self.folder = self.folder, None
            self._dumped.clear()
        if folder is not None:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            with _live_lock:
                _live_folders.discard(folder)


def _default_reduce(array: Any) -> Any:
    return array.__reduce_ex__(5)


# --- references to memory-mapped data ---------------------------------------------


def _backing_memmap(array: Any) -> Any:
    """The ``numpy.memmap`` that owns the file mapping under ``array``, or None.

    Slices of a memmap are memmaps too and inherit its ``filename`` and
    ``offset``, but only the memmap built directly on the ``mmap.mmap`` object
    has its first byte at file position ``offset``: that is the one returned.
    """
    numpy = sys.modules["numpy"]
    candidate = array
    while isinstance(candidate, numpy.ndarray):
        base = candidate.base
        if not isinstance(base, numpy.ndarray):
            if isinstance(candidate, numpy.memmap) and getattr(
                candidate, "filename", None
            ):
                return candidate
            return None
        candidate = base
    return None


def _byte_bounds(array: Any) -> tuple[int, int]:
    """Lowest and one-past-highest byte address used by ``array``."""
    start = array.__array_interface__["data"][0]
    low = high = start
    for size, stride in zip(array.shape, array.strides, strict=True):
        extent = (size - 1) * stride
        if extent < 0:
            low += extent
        else:
            high += extent
    return low, high + array.itemsize


def memmap_reference(array: Any) -> tuple[Any, ...] | None:
    """What a worker needs to map the same bytes: None if not file-backed."""
    if array.size == 0:
        return None
    memmap = _backing_memmap(array)
    if memmap is None or memmap.mode == "c":
        # Copy-on-write memmaps may hold changes that are not in the file.
        return None
    memmap_start = memmap.__array_interface__["data"][0]
    low, high = _byte_bounds(array)
    file_offset = memmap.offset + (low - memmap_start)
    inner_offset = array.__array_interface__["data"][0] - low
    mode = "r+" if memmap.mode in ("r+", "w+") else "r"
    return (
        memmap.filename,
        file_offset,
        high - low,
        mode,
        array.dtype,
        array.shape,
        array.strides,
        inner_offset,
    )


def open_memmap_reference(
    filename: str,
    file_offset: int,
    length: int,
    mode: str,
    dtype: Any,
    shape: tuple[int, ...],
    strides: tuple[int, ...],
    inner_offset: int,
) -> Any:
    """Reopen a reference made by :func:`memmap_reference` (in the worker)."""
    import numpy

    raw = numpy.memmap(
        filename,
        dtype=numpy.uint8,
        mode=mode,  # type: ignore[call-overload]
        offset=file_offset,
        shape=(length,),
    )
    return numpy.ndarray.__new__(
        numpy.memmap, shape, dtype, buffer=raw, offset=inner_offset, strides=strides
    )


# --- dumped arrays, opened in workers -------------------------------------------------

# Set in a worker whenever a dumped array is opened read-only; lets the worker
# explain "assignment destination is read-only" errors.
opened_read_only = threading.local()


def open_dumped_array(path: str, mmap_mode: str) -> Any:
    """Open an array dumped by :class:`ArrayMemmapper` as a ``numpy.memmap``."""
    from joblet_persist import load

    if mmap_mode == "r":
        opened_read_only.value = True
    return load(path, mmap_mode=mmap_mode)


READ_ONLY_ADVICE = (
    " (joblet shared this argument with the worker as a read-only memory map "
    "because it is larger than Parallel's max_nbytes. To modify it inside the "
    "task, pass max_nbytes=None (each worker gets a private copy) or "
    "mmap_mode='c' (copy-on-write: changes stay in the worker); to write results "
    "back, pass a numpy.memmap opened with mode 'w+' or 'r+'.)"
)


def explain_worker_error(error: BaseException) -> BaseException:
    """Add the advice above to numpy's read-only error when a memmap was opened."""
    if (
        isinstance(error, ValueError)
        and "read-only" in str(error)
        and getattr(opened_read_only, "value", False)
    ):
        explained = ValueError(f"{error}{READ_ONLY_ADVICE}")
        explained.__traceback__ = error.__traceback__
        return explained
    return error


def reset_worker_state() -> None:
    opened_read_only.value = False
