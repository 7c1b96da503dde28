"""Writing files that joblib (>= 0.10) loads: ``dump(..., format='joblib')``.

joblib's layout, written without importing joblib: one pickle stream in which
each numpy array is a ``joblib.numpy_pickle.NumpyArrayWrapper`` (its class named
by a GLOBAL opcode, its attributes in a BUILD state), the array's raw bytes
right after that BUILD, and object arrays as a nested pickle at the same place.
A compressed file is that stream inside one standard zlib, gzip, bz2, lzma, xz
or lz4 stream, as joblib writes it.

The array bytes start at a multiple of 16 bytes, so that joblib's
``mmap_mode`` maps them aligned. joblib >= 1.2 marks alignment with a pad-length
byte before the data, which joblib < 1.2 cannot read; instead, this writer
aligns the data by the length of one extra string attribute of the wrapper,
which every joblib version (and joblet) reads and ignores.
"""

from __future__ import annotations

import bz2
import io
import lzma
import pickle
import struct
import zlib
from typing import IO, TYPE_CHECKING, Any

#: ``dump(format=...)`` values.
FORMATS = ("joblet", "joblib")
#: The compressors joblib itself reads (a file joblib cannot open is no use).
JOBLIB_COMPRESSORS = ("zlib", "gzip", "bz2", "lzma", "xz", "lz4")
ALIGNMENT = 16
_PAD_KEY = "_joblet_alignment_padding"
_WRAPPER_GLOBAL = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_CHUNK_BYTES = 16 << 20


def check_format(format: Any) -> str:
    """Validate ``dump``'s ``format`` argument."""
    if format not in FORMATS:
        raise ValueError(
            f"invalid format {format!r}: expected 'joblet' (the default: joblet's "
            "own file, the fastest) or 'joblib' (a file that joblib >= 0.10 loads, "
            "for machines where only joblib is installed)"
        )
    return str(format)


class _Counting:
    """A write-only file that counts the bytes written (pickle's framer needs a file)."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.position = 0

    def write(self, data: Any) -> int:
        self.file.write(data)
        size = memoryview(data).nbytes
        self.position += size
        return size


class _WrapperClass:
    """Memo key standing for joblib's wrapper class (which is never imported)."""


if TYPE_CHECKING:

    class _PyPickler:
        """What this module uses of pickle's pure-Python pickler.

        typeshed types it as the C class, without the internals below.
        """

        proto: int
        memo: dict[int, tuple[int, Any]]
        framer: Any

        def __init__(self, file: Any, protocol: int | None = None) -> None: ...
        def dump(self, obj: Any) -> None: ...
        def save(self, obj: Any, save_persistent_id: bool = True) -> None: ...
        def write(self, data: bytes) -> Any: ...
        def get(self, index: int) -> bytes: ...
        def memoize(self, obj: Any) -> None: ...

else:
    # The pure-Python pickler: joblib's layout writes raw array bytes between
    # opcodes (save and the framer), which the C pickler cannot; pickle gives
    # it no public name.
    _PyPickler = pickle._Pickler  # noqa: SLF001 (pickle has no public name for it)


class JoblibPickler(_PyPickler):
    """The pure-Python pickler writing numpy arrays as joblib does."""

    def __init__(self, file: Any, protocol: int) -> None:
        self.counter = _Counting(file)
        super().__init__(self.counter, protocol=protocol)
        import numpy

        self.np: Any = numpy
        self.wrapper_key = _WrapperClass()

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        np = self.np
        if type(obj) in (np.ndarray, np.matrix, np.memmap):
            self._save_array(obj)
            return
        super().save(obj, save_persistent_id)

    def _save_array(self, array: Any) -> None:
        np = self.np
        subclass = np.ndarray if type(array) is np.memmap else type(array)
        flags = array.flags
        order = "F" if flags.f_contiguous and not flags.c_contiguous else "C"
        state = {
            "subclass": subclass,
            "shape": array.shape,
            "order": order,
            "dtype": array.dtype,
            "allow_mmap": not array.dtype.hasobject,
        }
        self._save_wrapper_class()
        self.write(pickle.EMPTY_TUPLE + pickle.NEWOBJ + pickle.EMPTY_DICT + pickle.MARK)
        for key, value in state.items():
            self.save(key)
            self.save(value)
        if array.dtype.hasobject:
            self.write(pickle.SETITEMS + pickle.BUILD)
            self._end_frame()
            pickle.dump(np.asarray(array), self.counter, protocol=self.proto)
            return
        self._end_frame()
        self.write(self._padded_tail())
        self._end_frame()
        self._write_data(array, order)

    def _save_wrapper_class(self) -> None:
        key = self.wrapper_key
        if id(key) in self.memo:
            self.write(self.get(self.memo[id(key)][0]))
            return
        module, name = _WRAPPER_GLOBAL
        if self.proto >= 4:
            self.save(module)
            self.save(name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii"))
        self.memoize(key)

    def _end_frame(self) -> None:
        if self.proto >= 4:
            self.framer.commit_frame(force=True)

    def _padded_tail(self) -> bytes:
        """The pad entry, SETITEMS and BUILD, sized so that the data after is aligned."""
        key = _PAD_KEY.encode("ascii")
        fixed = (5 + len(key)) + 5 + 2  # two BINUNICODE headers, SETITEMS, BUILD
        frame_header = 9 if self.proto >= 4 else 0  # FRAME + 8-byte length
        start = self.counter.position + frame_header + fixed
        pad = -start % ALIGNMENT
        tail = (
            pickle.BINUNICODE + struct.pack("<I", len(key)) + key
            + pickle.BINUNICODE + struct.pack("<I", pad) + b"\x00" * pad
            + pickle.SETITEMS + pickle.BUILD
        )  # fmt: skip
        assert (self.counter.position + frame_header + len(tail)) % ALIGNMENT == 0
        return tail

    def _write_data(self, array: Any, order: str) -> None:
        np = self.np
        if array.flags.c_contiguous if order == "C" else array.flags.f_contiguous:
            view = memoryview(array.reshape(-1, order=order).view(np.uint8))
            for start in range(0, view.nbytes, _CHUNK_BYTES):
                self.counter.write(view[start : start + _CHUNK_BYTES])
            return
        buffersize = max(_CHUNK_BYTES // max(array.itemsize, 1), 1)
        for chunk in np.nditer(
            array,
            flags=["external_loop", "buffered", "zerosize_ok"],
            buffersize=buffersize,
            order=order,
        ):
            self.counter.write(chunk.tobytes("C"))


class _CompressedStream(io.RawIOBase):
    """A write-only stream compressing into ``file`` as one standard stream."""

    def __init__(self, file: IO[bytes], name: str, level: int | None) -> None:
        super().__init__()
        self._file = file
        self._compressor: Any
        if name in ("zlib", "gzip"):  # joblib's BinaryZlibFile: default level 3
            wbits = 31 if name == "gzip" else 15
            self._compressor = zlib.compressobj(
                3 if level is None else level, zlib.DEFLATED, wbits
            )
        elif name == "bz2":
            self._compressor = bz2.BZ2Compressor(9 if level is None else level)
        elif name in ("lzma", "xz"):
            fmt = lzma.FORMAT_ALONE if name == "lzma" else lzma.FORMAT_XZ
            self._compressor = lzma.LZMACompressor(format=fmt, preset=level)
        else:
            self._compressor = _lz4_compressor(level)
            file.write(self._compressor.begin())

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._file.write(self._compressor.compress(data))
        return memoryview(data).nbytes

    def finish(self) -> None:
        self._file.write(self._compressor.flush())


def _lz4_compressor(level: int | None) -> Any:
    try:
        import lz4.frame
    except ImportError:
        raise ValueError(
            "compress='lz4' needs the lz4 package: install it with "
            "`pip install 'joblet-persist[lz4]'`"
        ) from None
    if level is None:
        return lz4.frame.LZ4FrameCompressor()
    return lz4.frame.LZ4FrameCompressor(compression_level=level)


def check_joblib_codec(codec: tuple[str, int | None] | None) -> None:
    """Refuse a compressor that joblib cannot read, before anything is written."""
    if codec is not None and codec[0] not in JOBLIB_COMPRESSORS:
        raise ValueError(
            f"format='joblib' cannot use compress={codec[0]!r}: joblib reads only "
            f"{', '.join(JOBLIB_COMPRESSORS)}. Pick one of them, or dump with "
            "format='joblet'."
        )


def write_joblib(
    value: Any, file: IO[bytes], codec: tuple[str, int | None] | None, protocol: int
) -> None:
    """Write ``value`` to ``file`` as joblib would, compressed with ``codec``."""
    check_joblib_codec(codec)
    if codec is None:
        JoblibPickler(file, protocol).dump(value)
        return
    stream = _CompressedStream(file, *codec)
    JoblibPickler(stream, protocol).dump(value)
    stream.finish()
