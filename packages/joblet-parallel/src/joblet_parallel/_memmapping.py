"""Large arguments shared with process workers as memory maps, not copies.

While a task is pickled for a process worker, :class:`ArrayMemmapper` sees every
numpy array and every object handing out pickle protocol-5 buffers:

* an array backed by a ``numpy.memmap`` (the memmap itself, any view or slice of
  it, a :func:`~joblet_parallel.shared_empty` array) travels as a reference
  (file, byte range, dtype, shape, strides) and is reopened as a ``numpy.memmap``
  in the worker: no copy, whatever its size; a memmap opened ``'w+'`` or ``'r+'``
  is reopened ``'r+'`` so workers can write results in place;
* an array of at least ``max_nbytes`` bytes is written raw into a private
  temporary folder once, and mapped by the workers with ``mmap_mode``;
* a protocol-5 buffer of at least ``max_nbytes`` bytes (the buffers of pyarrow
  Tables, RecordBatches and Arrays, of Arrow-backed pandas columns, of any
  object whose ``__reduce_ex__(5)`` hands out ``pickle.PickleBuffer``) is written
  the same way and reaches the reconstructor in the worker as a memory map;
* anything else is pickled as usual (protocol 5, buffers out of band).

What was written is kept in a :class:`~joblet_parallel._dumpstore.DumpStore`
for the life of the pool (calls outside ``with``) or of the ``with Parallel``
block, and not written again while its content fingerprint is unchanged; within
one call an array is recognised by identity, as joblib does. Arguments opened
``'r+'`` are private to one call: workers may have written into their files.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from ._array_bytes import array_chunks, file_strides
from ._dumpstore import DumpStore, fingerprint, store_for_pool
from ._tempfolders import (  # noqa: F401  (re-exported: where tests and docs look)
    FOLDER_PREFIX,
    SHARED_MEMORY_FOLDER,
    SHARED_MEMORY_MIN_FREE,
    TEMP_FOLDER_ENV,
    choose_temp_folder,
    write_file,
)


def parse_max_nbytes(value: int | float | str | None) -> int | None:
    """Bytes from ``max_nbytes``: an int, a float (``1e6``), ``'10M'``, ``'1G'``,
    ``'1GiB'`` or None (joblet-persist's size grammar)."""
    from joblet_persist import parse_size

    try:
        return parse_size(value, name="max_nbytes")
    except ValueError as error:
        raise ValueError(f"{error}; or None to disable memmapping") from None


class BuffersHook:
    """Key, in a reducers dict, of the reducer of objects with protocol-5 buffers.

    Never instantiated: no object pickled has this type, so the key cannot match
    one; ``_pickling`` takes the reducer from it (see ``TaskPickler``).
    """


class MappedBuffer:
    """Stands in for a large ``PickleBuffer``: reopened as a memory map in the worker."""

    __slots__ = ("mode", "nbytes", "path")

    def __init__(self, path: str, nbytes: int, mode: str) -> None:
        self.path, self.nbytes, self.mode = path, nbytes, mode

    def __reduce__(self) -> tuple[Any, ...]:
        return open_mapped_buffer, (self.path, self.nbytes, self.mode)


class ArrayMemmapper:
    """Reducers that turn large arguments into memory-map references while pickling.

    One instance serves one call, or one ``with Parallel(...)`` block.

    Parameters
    ----------
    max_nbytes : int, str or None
        Arrays and buffers at least this large are written once and memory-mapped;
        None disables writing (existing memmaps still travel as references).
    mmap_mode : {'r', 'r+', 'c'}
        How workers open written arguments ('w+' means 'r+': never truncated).
    temp_folder : str or path, optional
        Parent of the private temporary folder; see :func:`choose_temp_folder`.
    pool : object, optional
        The worker pool of a call outside a ``with`` block: files are then kept
        (and reused) for the pool's life; without it, for this instance's life.
    """

    def __init__(
        self,
        max_nbytes: int | float | str | None,
        mmap_mode: str | None,
        temp_folder: str | os.PathLike[str] | None,
        pool: Any = None,
    ) -> None:
        self.max_nbytes, self.mmap_mode, self.temp_folder = self.normalize(
            max_nbytes, mmap_mode, temp_folder
        )
        # Files opened 'r+' may be written by workers: never reused by a later call.
        self._owns_store = pool is None or self.mmap_mode == "r+"
        if self._owns_store:
            self._store = DumpStore(self.temp_folder)
        else:
            self._store = store_for_pool(pool, self.temp_folder)
        self._store.acquire()
        self._lock = threading.Lock()
        # This call's arguments: key -> (what keeps the key valid, path)
        self._sent: dict[Hashable, tuple[Any, Path]] = {}
        # Shared arrays sent by this call: their files stay while tasks may open them.
        self._pinned: list[Any] = []
        self._added: list[Hashable] = []  # keys this instance wrote
        self.start_call()

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

    @property
    def folder(self) -> Path | None:
        """The private folder holding the written arguments (None until one is)."""
        return self._store.folder

    def start_call(self) -> None:
        """A new call starts: check arguments against their fingerprints again."""
        with self._lock:
            self._sent.clear()
            self._pinned.clear()
        if self.mmap_mode == "r+":
            self._store.clear()
        self._store.start_call()

    def reducers(self) -> dict[type, Any]:
        """``{type: reduce function}`` for the task pickler."""
        reducers: dict[type, Any] = {}
        if self.max_nbytes is not None:
            reducers[BuffersHook] = self.reduce_buffers
        numpy = sys.modules.get("numpy")
        if numpy is not None:  # else no array can exist in the tasks
            reducers[numpy.ndarray] = reducers[numpy.memmap] = self.reduce
        return reducers

    # -- numpy arrays -------------------------------------------------------------------
    def reduce(self, array: Any) -> Any:
        reference = memmap_reference(array)
        if reference is not None:
            from ._shared import pin_while_sent

            pin_while_sent(array, self._pinned)
            return reference
        if (
            self.max_nbytes is None
            or array.nbytes < self.max_nbytes
            or array.dtype.hasobject
            or array.size == 0
        ):
            return array.__reduce_ex__(5)
        path = self._write_once(("array", id(array)), array, array, _array_writer)
        return open_dumped_array, (
            str(path),
            self.mmap_mode,
            array.dtype,
            array.shape,
            file_strides(array),
        )

    # -- protocol-5 buffers -----------------------------------------------------------
    def reduce_buffers(self, obj: Any) -> Any:
        """``obj.__reduce_ex__(5)`` with its large ``PickleBuffer`` arguments mapped."""
        import pickle

        from ._pandas_arrow import (
            is_arrow_extension_array,
            reduce_arrow_extension_array,
        )

        if is_arrow_extension_array(obj):
            return reduce_arrow_extension_array(obj)  # its chunks come back here
        reduced = obj.__reduce_ex__(5)
        if not isinstance(reduced, tuple) or len(reduced) < 2:
            return reduced
        args = reduced[1]
        if not isinstance(args, tuple) or not any(
            isinstance(arg, pickle.PickleBuffer) for arg in args
        ):
            return reduced
        mapped = tuple(
            self._map_buffer(arg) if isinstance(arg, pickle.PickleBuffer) else arg
            for arg in args
        )
        return (reduced[0], mapped, *reduced[2:])

    def _map_buffer(self, buffer: Any) -> Any:
        try:
            raw = buffer.raw()
        except BufferError:  # not contiguous: pickled as usual
            return buffer
        assert self.max_nbytes is not None
        if raw.nbytes < max(self.max_nbytes, 1):
            return buffer
        address = _buffer_address(raw)
        # Within a call, the buffer is kept alive by ``raw`` in ``_sent``, so its
        # address cannot be reused by other data; across calls, the fingerprint
        # decides.
        key = ("buffer", address, raw.nbytes) if address else None
        path = self._write_once(key, raw, None, _buffer_writer)
        return MappedBuffer(str(path), raw.nbytes, self.mmap_mode)

    # -- writing once ---------------------------------------------------------------------
    def _write_once(
        self,
        key: Hashable | None,
        data: Any,
        owner: Any,
        writer: Callable[[Any], Callable[[Path], None]],
    ) -> Path:
        """The file holding ``data``: written now unless this call or the store has it."""
        with self._lock:
            sent = self._sent.get(key) if key is not None else None
            if sent is not None and (owner is None or sent[0]() is owner):
                return sent[1]
            content = fingerprint(data)
            if key is None:  # no address to recognise it by: by content alone
                key = ("content", content)
            path = self._store.find(key, owner, content)
            if path is None:
                path = self._store.add(key, owner, content, writer(data))
                self._added.append(key)
            keeper = weakref.ref(owner) if owner is not None else data
            self._sent[key] = (keeper, path)
            return path

    def cleanup(self) -> None:
        """End of the call or block: release (or remove) the written files.

        Called from the caller's exception handler when the call failed (an
        error, Ctrl-C): what this call wrote is then removed, not kept for reuse,
        since the failure may keep its arguments alive for long (tracebacks).
        """
        with self._lock:
            self._sent.clear()
            self._pinned.clear()
            added, self._added = self._added, []
        if sys.exc_info()[0] is not None:
            self._store.forget(added)
        self._store.release()
        if self._owns_store:
            self._store.close()


def _buffer_address(raw: memoryview) -> int:
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return 0
    address: int = numpy.frombuffer(raw, numpy.uint8).__array_interface__["data"][0]
    return address


def _buffer_writer(raw: memoryview) -> Callable[[Path], None]:
    return lambda path: write_file(path, [raw], raw.nbytes)


def _array_writer(array: Any) -> Callable[[Path], None]:
    return lambda path: write_file(path, array_chunks(array), array.nbytes)


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
    """``(function, args)`` that map the same file bytes in a worker, or None if
    ``array`` is not file-backed."""
    if array.size == 0:
        return None
    memmap = _backing_memmap(array)
    if memmap is None or memmap.mode == "c":
        # Copy-on-write memmaps may hold changes that are not in the file.
        return None
    from ._shared import worker_mode

    memmap_start = memmap.__array_interface__["data"][0]
    low, high = _byte_bounds(array)
    file_offset = memmap.offset + (low - memmap_start)
    inner_offset = array.__array_interface__["data"][0] - low
    shared_mode = worker_mode(memmap)
    mode = shared_mode or ("r+" if memmap.mode in ("r+", "w+") else "r")
    opener = open_shared_read_only if shared_mode == "r" else open_memmap_reference
    return opener, (
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
    array = numpy.ndarray.__new__(
        numpy.memmap, shape, dtype, buffer=raw, offset=inner_offset, strides=strides
    )
    # As numpy's own slices of a memmap: the file, its offset and mode are kept.
    # numpy.memmap keeps its mapping in _mmap and offers no public way to set it.
    array._mmap = raw._mmap  # noqa: SLF001 (numpy: no public name)
    array.filename = raw.filename
    array.offset, array.mode = raw.offset, raw.mode
    return array


# --- written arguments, opened in workers ------------------------------------------------

# In a worker, the advice for "assignment destination is read-only" errors when a
# task opened a read-only map it did not ask for ("" otherwise).
opened_read_only = threading.local()


def open_shared_read_only(*reference: Any) -> Any:
    """Open a read-only reference to a shared array (see :func:`memmap_reference`)."""
    opened_read_only.value = SHARED_READ_ONLY_ADVICE
    return open_memmap_reference(*reference)


def open_dumped_array(
    path: str,
    mmap_mode: str,
    dtype: Any,
    shape: tuple[int, ...],
    strides: tuple[int, ...],
) -> Any:
    """Map an array written by :class:`ArrayMemmapper` as a ``numpy.memmap``."""
    if mmap_mode == "r":
        opened_read_only.value = READ_ONLY_ADVICE
    nbytes = int(dtype.itemsize)
    for size in shape:
        nbytes *= size
    return open_memmap_reference(path, 0, nbytes, mmap_mode, dtype, shape, strides, 0)


def open_mapped_buffer(path: str, nbytes: int, mode: str) -> memoryview:
    """Map a buffer written by :class:`ArrayMemmapper` (read-only for ``'r'``)."""
    import mmap

    access = {"r": mmap.ACCESS_READ, "c": mmap.ACCESS_COPY, "r+": mmap.ACCESS_WRITE}
    with open(path, "rb" if mode == "r" else "r+b") as file:
        mapping = mmap.mmap(file.fileno(), nbytes, access=access[mode])
    return memoryview(mapping)


READ_ONLY_ADVICE = (
    " (joblet shared this argument with the worker as a read-only memory map "
    "because it is larger than Parallel's max_nbytes. To modify it inside the "
    "task, pass max_nbytes=None (each worker gets a private copy) or "
    "mmap_mode='c' (copy-on-write: changes stay in the worker); to write results "
    "back, pass a numpy.memmap opened with mode 'w+' or 'r+', or an array made "
    "with shared_empty(..., writable=True).)"
)
SHARED_READ_ONLY_ADVICE = (
    " (this argument is a shared array that workers may only read: create it "
    "with shared_empty(..., writable=True) or shared_array(..., writable=True) "
    "to let tasks write into it.)"
)


def explain_worker_error(error: BaseException) -> BaseException:
    """Add the advice above to numpy's read-only error when a memmap was opened."""
    advice = getattr(opened_read_only, "value", "")
    if isinstance(error, ValueError) and "read-only" in str(error) and advice:
        explained = ValueError(f"{error}{advice}")
        explained.__traceback__ = error.__traceback__
        return explained
    return error


def reset_worker_state() -> None:
    opened_read_only.value = ""
