"""``dumps`` and ``loads``: the file format as bytes, with the same options and checks."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from ._dump import dump
from ._load import load
from ._types import Compress


class _Bytes(io.BytesIO):
    """The bytes given to ``loads``, named so in messages."""

    name = "<bytes given to loads>"


def dumps(
    value: Any,
    compress: Compress = 0,
    protocol: int | None = None,
    *,
    format: str = "joblet",
) -> bytes:
    """Persist ``value`` into bytes: exactly what :func:`dump` writes to a file.

    Parameters
    ----------
    value : any Python object
        The object to store.
    compress : bool, int, str or (str, int), default 0
        As for :func:`dump`: 0 or False none, True zlib at level 3, 1-9 zlib at
        that level, a compressor name, or a ``(name, level)`` tuple.
    protocol : int, optional
        Pickle protocol, the highest by default.
    format : {'joblet', 'joblib'}, default 'joblet'
        As for :func:`dump`.

    Returns
    -------
    bytes
        The file's bytes; :func:`loads` (or :func:`load` of a file holding
        them) gives ``value`` back.

    Raises
    ------
    ValueError
        For an unknown compressor (the message names the closest one), a level
        outside 0-9, or a missing optional package.
    """
    sink = io.BytesIO()
    dump(value, sink, compress, protocol, format=format)
    return sink.getvalue()


def loads(
    data: bytes | bytearray | memoryview,
    ensure_native_byte_order: bool | str = "auto",
    *,
    allowed_globals: Iterable[Any] | None = None,
    verify: bool | None = None,
    max_bytes: int | None = None,
) -> Any:
    """Reconstruct an object from bytes written by :func:`dumps` (or any dump).

    Every check of :func:`load` applies: the format and compressor are
    recognised from the first bytes, the checksums verified, and a restricted
    load (``allowed_globals``) is bounded by ``max_bytes``, by default 100
    times ``len(data)`` (at least 16 MiB).

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        What :func:`dumps` returned, or the bytes of a joblet, joblib or pickle
        file.
    ensure_native_byte_order : bool or 'auto', default 'auto'
        As for :func:`load`.
    allowed_globals : iterable of str, class or function, optional
        As for :func:`load`: None trusts ``data`` (it may run code); otherwise
        a restricted load.
    verify : bool, optional
        As for :func:`load`.
    max_bytes : int, optional
        As for :func:`load`.

    Returns
    -------
    object
        The object stored in ``data``.

    Raises
    ------
    TypeError
        ``data`` is not bytes-like.
    FormatError
        As for :func:`load`.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"loads expects bytes, bytearray or memoryview, got {type(data).__name__}; "
            "to read a file, use load(path) or load(file_object)"
        )
    return load(
        _Bytes(data),
        None,
        ensure_native_byte_order,
        allowed_globals=allowed_globals,
        verify=verify,
        max_bytes=max_bytes,
    )
