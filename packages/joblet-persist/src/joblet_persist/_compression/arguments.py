"""``dump``'s ``compress`` argument, as joblib reads it."""

from __future__ import annotations

from typing import Any

from .registry import compressor_for_extension, get_compressor

LEVELS = range(10)


def check_level(level: Any) -> int | None:
    if level is None:
        return None
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise ValueError(
            f"invalid compression level {level!r}: expected an int from 0 to 9 "
            "(0 means no compression), e.g. compress=3 or compress=('zlib', 3)"
        )
    return level


def resolve_compress(
    compress: Any, filename: str | None
) -> tuple[str, int | None] | None:
    """Turn ``dump``'s ``compress`` argument into ``(name, level)`` or None.

    Follows joblib: True is zlib at its default level; an int is a zlib level;
    a str names the compressor at its default level; a tuple is ``(name, level)``;
    when not a tuple, a known extension of ``filename`` picks the compressor.
    """
    method = "zlib"
    explicit = False
    if compress is True:
        level: int | None = None
    elif compress is False or compress is None:
        level = 0
    elif isinstance(compress, tuple):
        if len(compress) != 2:
            raise ValueError(
                "compress as a tuple must be (name, level), e.g. ('zlib', 3); "
                f"got {compress!r}"
            )
        method, level = compress[0], check_level(compress[1])
        explicit = True
    elif isinstance(compress, str):
        method, level, explicit = compress, None, True
    else:
        level = check_level(compress)
    if not isinstance(method, str):
        raise ValueError(f"compressor name must be a str, got {method!r}")
    if filename is not None and not explicit:
        by_extension = compressor_for_extension(filename)
        if by_extension is not None:
            method = by_extension
            if level == 0:
                level = None
    if level == 0:
        return None
    get_compressor(method)  # unknown name or missing package: raise now
    return method, level
