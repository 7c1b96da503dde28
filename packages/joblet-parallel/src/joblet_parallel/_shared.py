"""Numpy arrays in shared memory from the start: workers map them, nothing is copied.

:func:`shared_empty` and :func:`shared_array` return a ``numpy.memmap`` over a
file of this process's private shared folder (``joblet_shared_<pid>_<random>``
under ``/dev/shm`` when it has room, see ``choose_temp_folder``). Passed to a
process worker, such an array (or any view of it) travels as a reference to that
file, whatever ``max_nbytes`` says: the worker maps the same memory. Workers may
write into it only if it was created with ``writable=True``; their writes are
then seen by this process and by the other workers at once.

The file is removed when the last array using the mapping is freed in this
process (workers that still map it keep their pages until they drop them), and
with the whole folder at interpreter exit, after Ctrl-C, or, when this process
was killed, by the next joblet process that creates a temporary folder.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Any

from ._tempfolders import (
    SHARED_FOLDER_PREFIX,
    make_private_folder,
    new_file_name,
    remove_folder,
    reserve_file,
)

_lock = threading.Lock()
_folder: Path | None = None
# file name -> the mode workers open it with ('r' or 'r+')
_worker_modes: dict[str, str] = {}


def shared_empty(
    shape: int | tuple[int, ...],
    dtype: Any = float,
    order: str = "C",
    *,
    writable: bool = False,
) -> Any:
    """A new, zero-filled numpy array in shared memory, mapped by workers without copy.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the array.
    dtype : data-type, default float
        Any numpy dtype without Python objects.
    order : {'C', 'F'}, default 'C'
        Memory layout.
    writable : bool, default False
        Whether tasks running in process workers may write into the array. Their
        writes land in the shared memory: the caller and the other workers see
        them (write disjoint parts, or synchronise yourself). Without it, workers
        get a read-only view and a write fails with advice.

    Returns
    -------
    numpy.memmap
        Writable in this process. Its memory is freed when the last array using
        it here is freed (and the workers dropped theirs).

    Raises
    ------
    TempFolderFullError
        The shared-memory folder (``/dev/shm``, or ``JOBLET_TEMP_FOLDER``) has
        no room for the array: its space is reserved when it is created, so
        that no later write into it can find the folder full.

    Examples
    --------
    >>> import numpy as np
    >>> from joblet_parallel import Parallel, delayed, shared_empty
    >>> def fill(out, i):
    ...     out[i] = i * i
    >>> out = shared_empty(4, dtype=np.int64, writable=True)
    >>> _ = Parallel(n_jobs=2)(delayed(fill)(out, i) for i in range(4))
    >>> out.tolist()
    [0, 1, 4, 9]
    """
    import numpy

    dtype = numpy.dtype(dtype)
    if dtype.hasobject:
        raise TypeError(
            f"shared_empty cannot hold dtype {dtype}: it contains Python objects, "
            "which live in one process's memory. Use a numeric or fixed-size dtype."
        )
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    shape_tuple = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = dtype.itemsize
    for size in shape_tuple:
        nbytes *= int(size)
    if nbytes == 0:  # numpy cannot map an empty file: nothing to share anyway
        return numpy.empty(shape_tuple, dtype=dtype, order=order)  # type: ignore[call-overload]
    filename = _new_segment(worker_mode="r+" if writable else "r")
    try:
        reserve_file(filename, nbytes)
        array = numpy.memmap(  # type: ignore[call-overload]
            filename, dtype=dtype, mode="r+", shape=shape_tuple, order=order
        )
    except BaseException:
        _free(filename)
        raise
    # The mapping outlives every view of the array: free the file with it.
    # numpy.memmap names its mapping only _mmap.
    weakref.finalize(array._mmap, _free, filename)  # noqa: SLF001 (numpy: no public name)
    return array


def shared_array(existing: Any, *, writable: bool = False) -> Any:
    """A copy of ``existing`` in shared memory (see :func:`shared_empty`).

    Parameters
    ----------
    existing : array_like
        The data to copy; its memory order (C or Fortran) is kept.
    writable : bool, default False
        Whether tasks in process workers may write into the copy.

    Returns
    -------
    numpy.memmap
        The shared copy.

    Examples
    --------
    >>> import numpy as np
    >>> from joblet_parallel import Parallel, delayed, shared_array
    >>> data = shared_array(np.arange(6.0))
    >>> Parallel(n_jobs=2)(delayed(float)(data[i:].sum()) for i in (0, 3))
    [15.0, 12.0]
    """
    import numpy

    source = numpy.asanyarray(existing)
    order = "F" if source.flags.f_contiguous and not source.flags.c_contiguous else "C"
    copy = shared_empty(source.shape, source.dtype, order, writable=writable)
    copy[...] = source
    return copy


def worker_mode(memmap: Any) -> str | None:
    """How workers open ``memmap`` if it is a shared array of this process, else None."""
    filename = getattr(memmap, "filename", None)
    if filename is None or not _worker_modes:
        return None
    return _worker_modes.get(str(filename))


def pin_while_sent(array: Any, pins: list[Any]) -> None:
    """Keep a shared array's file while the tasks of a call may still open it."""
    if _worker_modes:
        pins.append(array)


def _new_segment(worker_mode: str) -> str:
    """A new file name in this process's shared folder, registered with its mode."""
    global _folder
    with _lock:
        if _folder is None or not _folder.is_dir():
            _folder = make_private_folder(None, SHARED_FOLDER_PREFIX)
        # numpy.memmap keeps the absolute path as its ``filename``.
        filename = os.path.abspath(new_file_name(_folder, ".shm"))
        _worker_modes[filename] = worker_mode
        return filename


def _free(filename: str) -> None:
    global _folder
    try:
        os.unlink(filename)
    except OSError:
        pass
    with _lock:
        _worker_modes.pop(filename, None)
        if not _worker_modes and _folder is not None:
            folder, _folder = _folder, None
            remove_folder(folder)
