"""The byte budget of a load: every allocation is checked before it happens.

One :class:`Budget` travels with a load. Whatever the input makes the reader
allocate (arrays, out-of-band buffers, bytes and strings, big integers,
container slots, decompressed pickle streams) is charged to it first, and a
charge above its limit raises :class:`SizeLimitError` naming the size, the
limit and the ``max_bytes`` option, before any memory is taken.

The limit is ``load(..., max_bytes=...)`` when given. Otherwise a restricted
load (``allowed_globals`` given) gets :func:`default_limit` of the input's
size, and a normal load is not bounded by a ratio: there, the sizes the file
declares are checked against what the file can hold (see ``_container``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import SizeLimitError

#: A restricted load builds at most this many bytes per byte of its input ...
RESTRICTED_RATIO = 100
#: ... and never less than this, so that small files of small objects load.
RESTRICTED_FLOOR = 16 << 20


def default_limit(input_bytes: int | None) -> int:
    """The default ``max_bytes`` of a restricted load of ``input_bytes`` bytes.

    ``max(RESTRICTED_RATIO * input_bytes, RESTRICTED_FLOOR)``: 100 times the
    size of the file (compressed size for a compressed file), and at least
    16 MiB. An input of unknown size (a stream) gets the floor.
    """
    return max(RESTRICTED_RATIO * (input_bytes or 0), RESTRICTED_FLOOR)


@dataclass
class Budget:
    """Bytes a load may still allocate (``limit`` None: unbounded).

    Parameters
    ----------
    limit : int or None
        The most bytes the load may allocate in all.
    where : str
        How messages name the input.
    """

    limit: int | None
    where: str = "the input"
    spent: int = 0

    def charge(self, nbytes: int, what: str) -> None:
        """Count ``nbytes`` about to be allocated for ``what``, or refuse them."""
        if nbytes < 0:
            raise SizeLimitError(
                f"{self.where} is damaged or malicious: {what} has a negative size "
                f"({nbytes})"
            )
        self.spent += nbytes
        if self.limit is not None and self.spent > self.limit:
            raise SizeLimitError(
                f"refused {what} of {nbytes:,} bytes in {self.where}: the load would "
                f"allocate {self.spent:,} bytes, above its limit max_bytes="
                f"{self.limit:,}. The file is damaged or malicious, or holds more "
                "than the limit allows: if you trust it, pass a larger max_bytes "
                "to load."
            )


def check_max_bytes(max_bytes: int | None) -> None:
    """Refuse a ``max_bytes`` that is not None or a non-negative int."""
    if max_bytes is not None and (
        not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 0
    ):
        raise ValueError(
            f"max_bytes must be None or a number of bytes >= 0, got {max_bytes!r}"
        )
