"""What a file is, from its first bytes only (never from its name)."""

from __future__ import annotations

from dataclasses import dataclass

from ._compression.base import CompressorWrapper
from ._compression.registry import compressor_for_prefix
from ._format import MAGIC

#: How many leading bytes ``detect_format`` needs.
HEAD_BYTES = len(MAGIC)
PICKLE_PROTO = 0x80
# First opcodes of protocol 0 and 1 streams (no PROTO opcode): MARK, EMPTY_LIST,
# EMPTY_DICT, EMPTY_TUPLE, GLOBAL, INT, BININT*, LONG, FLOAT, BINFLOAT, STRING,
# BINSTRING, SHORT_BINSTRING, UNICODE, BINUNICODE, NONE, PERSID, BINPERSID
OLD_PICKLE_FIRST_BYTES = frozenset(b"(]}).cIJKMLFGSTUVXNPQ")


@dataclass(frozen=True)
class Detected:
    """``kind`` is one of "empty", "joblet", "truncated-joblet", "compressed",
    "pickle" (joblib's uncompressed files among them) or "unknown"."""

    kind: str
    compressor_name: str = ""
    compressor: CompressorWrapper | None = None


def detect_format(head: bytes) -> Detected:
    """Recognise a file from its first :data:`HEAD_BYTES` bytes."""
    if not head:
        return Detected("empty")
    if head.startswith(MAGIC):
        return Detected("joblet")
    if MAGIC.startswith(head):
        return Detected("truncated-joblet")
    found = compressor_for_prefix(head)
    if found is not None:
        return Detected("compressed", found[0], found[1])
    if head[0] == PICKLE_PROTO or head[0] in OLD_PICKLE_FIRST_BYTES:
        return Detected("pickle")
    return Detected("unknown")
