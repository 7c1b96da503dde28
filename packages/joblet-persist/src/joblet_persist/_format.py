"""The joblet-persist file: header layout, buffer table, alignment.

Layout of an uncompressed file (all integers little-endian)::

    header   fixed size, see HEADER below
    table    JSON (utf-8): one entry per out-of-band buffer
    pickle   pickle stream (protocol 5), buffers referenced out of band
    padding  up to the next multiple of ALIGNMENT
    buffers  each buffer's raw bytes, each starting at a multiple of ALIGNMENT
    checks   (version 2) one u64 xxh3_64 per buffer, right after the last one

A compressed file is this file passed through a standard compressor (gzip, xz,
zstd ...: see ``_compression.streams``), so decompressing it with the standard tool gives
the uncompressed file. Format version 1 (joblet-persist 0.1) also had a
compressed container, with the codec in the header and chunks after the table
(read by ``_format_v1``); version 2 files never set the codec field.

The header holds a CRC-32 of the table and of the raw pickle stream, so a damaged
file is refused before any of its pickle runs.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from ._errors import FormatError, TruncatedFileError, UnsupportedVersionError

MAGIC = b"\x89JOBLET\n"
#: The persistent id standing for the next buffer in streams of protocol < 5.
BUFFER_PERSISTENT_ID = "joblet-buffer"
FORMAT_VERSION = 2
#: The first version whose files end with the buffers' xxh3 checksums.
CHECKSUM_VERSION = 2
CHECKSUM_SIZE = 8  # one little-endian u64 xxh3_64 per buffer
#: The version whose compressed files were joblet's own chunked container.
LEGACY_CHUNKED_VERSION = 1
ALIGNMENT = 64

# magic, version, flags, codec, level, crc32(table + pickle), table bytes,
# pickle raw bytes, total raw bytes of the buffers, chunk size (0 uncompressed)
HEADER = struct.Struct("<8sHH16sbxxxIQQQQ")
FLAG_COMPRESSED = 1
# A table larger than this is certainly corruption, not data.
MAX_TABLE_BYTES = 1 << 31
# No section of a real file comes near this (64 PiB).
MAX_SECTION_BYTES = 1 << 56
# joblet-persist 0.1 wrote chunks of 1 MiB: a version-1 chunk larger than this
# is damage (each chunk is decoded whole, so its size is allocated at once).
MAX_CHUNK_BYTES = 1 << 26


def align(offset: int) -> int:
    """The smallest multiple of ``ALIGNMENT`` that is >= ``offset``."""
    return -(-offset // ALIGNMENT) * ALIGNMENT


@dataclass
class Header:
    version: int
    codec: str  # "" when uncompressed
    level: int  # -1 when uncompressed
    crc: int
    table_len: int
    pickle_len: int
    buffers_len: int
    chunk_size: int

    @property
    def compressed(self) -> bool:
        return bool(self.codec)

    def pack(self) -> bytes:
        flags = FLAG_COMPRESSED if self.codec else 0
        return HEADER.pack(
            MAGIC,
            self.version,
            flags,
            self.codec.encode("ascii"),
            self.level,
            self.crc,
            self.table_len,
            self.pickle_len,
            self.buffers_len,
            self.chunk_size,
        )

    @classmethod
    def unpack(cls, raw: bytes, where: str) -> Header:
        if raw[:8] != MAGIC:
            raise FormatError(
                f"{where} is not a joblet-persist file (bad magic {raw[:8]!r})"
            )
        if len(raw) < 10:
            raise TruncatedFileError(
                f"{where} is truncated inside its header. Dump the data again."
            )
        version = struct.unpack_from("<H", raw, 8)[0]
        if version == 0:
            raise FormatError(f"{where} is corrupted: format version 0")
        if version > FORMAT_VERSION:
            raise UnsupportedVersionError(
                f"{where} uses joblet-persist format version {version}, but this "
                f"joblet-persist reads versions up to {FORMAT_VERSION}: it was written "
                "by a newer release. Upgrade with `pip install -U joblet-persist`."
            )
        if len(raw) < HEADER.size:
            raise TruncatedFileError(
                f"{where} is truncated: its {len(raw)} bytes end inside the "
                f"{HEADER.size}-byte header. Dump the data again."
            )
        (
            _,
            version,
            flags,
            codec,
            level,
            crc,
            table_len,
            pickle_len,
            buffers_len,
            chunk,
        ) = HEADER.unpack(raw[: HEADER.size])
        try:
            codec_name = codec.rstrip(b"\x00").decode("ascii")
        except UnicodeDecodeError:
            raise FormatError(
                f"{where} is corrupted: unreadable codec field {codec!r}"
            ) from None
        if (
            bool(flags & FLAG_COMPRESSED) != bool(codec_name)
            or flags & ~FLAG_COMPRESSED
        ):
            raise FormatError(
                f"{where} is corrupted: inconsistent header flags {flags}"
            )
        if codec_name and version != LEGACY_CHUNKED_VERSION:
            raise FormatError(
                f"{where} is corrupted: format version {version} has no codec field"
            )
        if (
            table_len > MAX_TABLE_BYTES
            or max(pickle_len, buffers_len, chunk) > MAX_SECTION_BYTES
            or (codec_name and not 0 < chunk <= MAX_CHUNK_BYTES)
        ):
            raise FormatError(f"{where} is corrupted: implausible header values")
        return cls(
            version, codec_name, level, crc, table_len, pickle_len, buffers_len, chunk
        )


@dataclass
class BufferEntry:
    """One out-of-band buffer: where it lies and, for arrays, what it holds."""

    nbytes: int
    offset: int = 0  # relative to the start of the buffer area (uncompressed)
    kind: str = "buffer"  # "array" or "buffer"
    dtype: str = ""
    shape: tuple[int, ...] = ()
    order: str = "C"

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "kind": self.kind,
            "nbytes": self.nbytes,
            "offset": self.offset,
        }
        if self.kind == "array":
            entry.update(dtype=self.dtype, shape=list(self.shape), order=self.order)
        return entry


def file_size(header: Header, buffer_count: int) -> int:
    """The size of an uncompressed file with this header and that many buffers."""
    size = HEADER.size + header.table_len + header.pickle_len
    if header.buffers_len:
        size = align(size) + header.buffers_len
    if header.version >= CHECKSUM_VERSION:
        size += CHECKSUM_SIZE * buffer_count
    return size


def encode_table(entries: list[BufferEntry], writer: str) -> bytes:
    document = {"writer": writer, "buffers": [entry.to_json() for entry in entries]}
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def decode_table(raw: bytes, where: str) -> list[BufferEntry]:
    try:
        document = json.loads(raw.decode("utf-8"))
        entries = []
        for item in document["buffers"]:
            nbytes, offset = int(item["nbytes"]), int(item["offset"])
            if nbytes < 0 or offset < 0 or offset % ALIGNMENT:
                raise ValueError("negative or misaligned buffer")
            entries.append(
                BufferEntry(
                    nbytes=nbytes,
                    offset=offset,
                    kind=str(item["kind"]),
                    dtype=str(item.get("dtype", "")),
                    shape=tuple(int(n) for n in item.get("shape", ())),
                    order=str(item.get("order", "C")),
                )
            )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FormatError(
            f"{where} is corrupted: unreadable buffer table ({exc})"
        ) from None
    return entries


def code_region_length(head: bytes, file_size: int) -> int:
    """How many leading bytes of a file can run code when it is loaded.

    For an uncompressed joblet-persist file: its header, buffer table and
    pickle stream (the raw buffers after them are data nothing executes).
    For any other file (compressed, joblib, pickle) or a header that does not
    parse: the whole ``file_size``. A signature over this region (as
    joblet-memory signs its cache entries) covers everything a load runs.

    Parameters
    ----------
    head : bytes
        The file's first bytes: at least ``HEADER.size`` (68) of them for a
        joblet-persist file to be recognised; the whole file will do.
    file_size : int
        The size of the file (without anything appended after the dump).

    Returns
    -------
    int
        The length of the region, at most ``file_size``.
    """
    if len(head) < HEADER.size or not head.startswith(MAGIC):
        return file_size
    try:
        header = Header.unpack(head[: HEADER.size], "the file")
    except FormatError:
        return file_size
    if header.compressed:  # version 1: the pickle stream is in compressed chunks
        return file_size
    return min(file_size, HEADER.size + header.table_len + header.pickle_len)
