"""Exceptions raised when a file cannot be read or a global is refused."""

from __future__ import annotations

import pickle


class FormatError(pickle.UnpicklingError, ValueError):
    """The bytes given to ``load`` are not a readable joblet, joblib or pickle file.

    Raised for empty, truncated, corrupted or foreign files. It subclasses both
    :class:`pickle.UnpicklingError` (what pickle raises) and :class:`ValueError`
    (what joblib raises for files it does not recognise).
    """


class TruncatedFileError(FormatError):
    """The file ends before all the data it announces; it was cut short."""


def truncated_array(where: str, missing: int) -> TruncatedFileError:
    """The error of a file that ends ``missing`` bytes before an array's end."""
    return TruncatedFileError(
        f"{where} is truncated: it ends {missing} bytes before the end of an "
        "array. Dump the data again."
    )


class UnsupportedVersionError(FormatError):
    """The file was written by a newer joblet-persist with a newer format version."""


class SizeLimitError(FormatError):
    """A load refused an allocation above its byte budget (``max_bytes``).

    Every allocation a load makes is checked before it happens against
    ``load(..., max_bytes=...)`` (by default, for a restricted load, 100 times
    the size of the file and at least 16 MiB); the message names the size, the
    limit and the option. Also raised for numbers of more than 4,300 digits
    (``Fraction('1e999999999')``) in a restricted load.
    """


class UnsafeGlobalError(FormatError):
    """A restricted load met a global that is not on its allow-list.

    A :class:`FormatError` (so also a :class:`pickle.UnpicklingError`), as every
    refusal of a restricted load is.

    Attributes
    ----------
    global_name : str
        ``"module.qualname"`` of the refused global.
    """

    def __init__(self, global_name: str) -> None:
        super().__init__(global_name)
        self.global_name = global_name

    def __str__(self) -> str:
        return (
            f"refused to import {self.global_name!r}: it is not on the allow-list of "
            "this restricted load. If you trust the file, pass "
            f"allowed_globals=[{self.global_name!r}] (or load without "
            "allowed_globals); `python -m joblet_persist inspect FILE` lists every "
            "global a file imports."
        )


class UnsafeModificationError(UnsafeGlobalError):
    """A restricted load met an opcode modifying an imported global itself.

    Legitimate pickles only modify the objects they build; a stream applying
    BUILD, APPEND or SETITEM to a class or function it imported would change
    that global for the whole process.
    """

    def __init__(self, global_name: str, opcode: str) -> None:
        super().__init__(global_name)
        self.opcode = opcode

    def __str__(self) -> str:
        return (
            f"refused {self.opcode} on the global {self.global_name!r} itself: a "
            "restricted load never modifies an imported class or function (the file "
            "is malicious or damaged)"
        )
