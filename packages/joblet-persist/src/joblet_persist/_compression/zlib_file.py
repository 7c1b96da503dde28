"""A zlib stream (``78 ..``) as a binary file object, as joblib writes ``.z`` files.

The sequential reader and writer of zlib streams: the codec registry offers
it as the zlib compressor's file class, and the parallel zlib decoder hands
over to it for streams whose blocks refer back.
"""

from __future__ import annotations

import io
import zlib
from typing import IO, Any


class _ZlibFile(io.RawIOBase):
    """A zlib stream (``78 ..``) as a binary file, as joblib writes for ``.z``."""

    def __init__(
        self, fileobj: IO[bytes], mode: str = "rb", compresslevel: int = 3
    ) -> None:
        super().__init__()
        self._fileobj = fileobj
        self._reading = mode.startswith("r")
        self._pending = b""
        if self._reading:
            self._engine: Any = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            self._engine = zlib.compressobj(
                compresslevel, zlib.DEFLATED, zlib.MAX_WBITS
            )

    def readable(self) -> bool:
        return self._reading

    def writable(self) -> bool:
        return not self._reading

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            if self._engine.eof:
                return 0
            raw = self._engine.unconsumed_tail or self._fileobj.read(1 << 16)
            if not raw:
                raise EOFError("compressed file ended before the end-of-stream marker")
            # bounded: never more than the caller asked for at once
            self._pending = self._engine.decompress(raw, 1 << 22)
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def write(self, data: Any) -> int:
        self._fileobj.write(self._engine.compress(data))
        return memoryview(data).nbytes

    def close(self) -> None:
        if not self.closed and not self._reading:
            self._fileobj.write(self._engine.flush())
        super().close()


def zlib_file(
    fileobj: IO[bytes], mode: str = "rb", compresslevel: int = 3
) -> IO[bytes]:
    """A buffered zlib file object (joblib's ``ZlibFile`` equivalent)."""
    if mode.startswith("r"):
        return io.BufferedReader(_ZlibFile(fileobj, mode))
    return io.BufferedWriter(_ZlibFile(fileobj, mode, compresslevel))
