"""One parser for byte sizes given as numbers or strings (``'1G'``, ``'500M'``).

Grammar (case-insensitive, spaces around the parts allowed)::

    size  := number [unit]
    number:= digits ["." digits]
    unit  := ("K" | "M" | "G" | "T") ["i"] ["B"] | "B"

Units are powers of 1024 as in joblib (``'1K'`` = ``'1KiB'`` = 1024 bytes,
``'1G'`` = 1024**3); a bare number is bytes. Ints and floats are bytes too.
"""

from __future__ import annotations

import re
from typing import overload

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?:([kmgt])i?)?b?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@overload
def parse_size(value: None, name: str = ...) -> None: ...
@overload
def parse_size(value: int | float | str, name: str = ...) -> int: ...


def parse_size(value: int | float | str | None, name: str = "size") -> int | None:
    """Bytes from ``1000``, ``1e6``, ``'10k'``, ``'500M'``, ``'1.5G'`` or ``'1GiB'``.

    Parameters
    ----------
    value : int, float, str or None
        A number of bytes, or a string ``<number>[K|M|G|T][i][B]`` (case-
        insensitive; units are powers of 1024, as in joblib). None is returned
        as is (callers use it for "no limit").
    name : str, default "size"
        The parameter's name, used in the error message.

    Returns
    -------
    int or None
        The size in bytes (fractions rounded down).

    Raises
    ------
    ValueError
        For a negative number, a bool, or a string outside the grammar.

    Examples
    --------
    >>> from joblet_persist import parse_size
    >>> parse_size("1G"), parse_size("500M"), parse_size("1GiB"), parse_size("10k")
    (1073741824, 524288000, 1073741824, 10240)
    >>> parse_size(1000), parse_size("1.5K")
    (1000, 1536)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(
            f"{name} must be a number of bytes or a string such as '10k', '500M', "
            f"'1G' or '1GiB', got {value!r}"
        )
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match is None:
            raise ValueError(
                f"{name} must be a number of bytes or a string such as '10k', "
                f"'500M', '1G' or '1GiB' (units are powers of 1024), got {value!r}"
            )
        unit = match.group(2).lower() if match.group(2) else None
        return int(float(match.group(1)) * _UNITS[unit])
    if value < 0 or value != value:  # negative or NaN
        raise ValueError(f"{name} must be >= 0 bytes, got {value!r}")
    return int(value)
