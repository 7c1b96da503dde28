"""The messages the cache prints (in joblib 0.13's format) and human units.

``verbose >= 1``: one block per computation::

    ________________________________________________________________________________
    [Memory] Calling square...
    square(array([[0., 0., 1.],
           [1., 1., 1.],
           [4., 2., 1.]]))
    ___________________________________________________________square - 0.0s, 0.0min

``verbose >= 5``: a line per cache hit (``square cache loaded - 0.0s, 0.0min``);
``verbose >= 10``: where each result is loaded from and stored to;
``verbose >= 20``: a ``Querying`` line per call (its arguments, hash and store),
logged at INFO on the ``joblet_memory`` logger as joblib 1.6 logs it, and printed
with the other lines when logging is not configured.
"""

from __future__ import annotations

import datetime
import logging
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

LINE = 80
CALL_VERBOSITY = 1
LOAD_VERBOSITY = 5
PATH_VERBOSITY = 10
QUERY_VERBOSITY = 20

_LOGGER = logging.getLogger("joblet_memory")

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = 10
_repr.maxdict = 10
_repr.maxstring = 120
_repr.maxlong = 60
_repr.maxother = 700


def short_repr(value: Any) -> str:
    """A repr cut to a few hundred characters, cheap even for huge containers.

    numpy arrays already summarize themselves past 1000 elements.
    """
    try:
        return _repr.repr(value)
    except Exception as error:  # a broken __repr__ must never break a call
        return f"<{type(value).__qualname__} (repr failed: {error!r})>"


def format_time(seconds: float) -> str:
    return f"{seconds:.1f}s, {seconds / 60:.1f}min"


def format_call(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """The block printed before computing: separator, header and call repr."""
    return f"{'_' * LINE}\n[Memory] Calling {name}...\n{format_signature(name, args, kwargs)}"


def report_query(
    name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    args_id: str,
    location: str,
) -> None:
    """The ``verbose >= 20`` line: logged where logging is set up, else printed."""
    message = (
        f"[Memory] Querying {name} with signature {format_signature(name, args, kwargs)} "
        f"(argument hash {args_id}); the store location is {location}"
    )
    if _LOGGER.hasHandlers():
        _LOGGER.info(message)
    else:
        print(message)


def format_signature(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """``name(arg, ..., key=value)`` with short reprs, wrapped after long ones."""
    parts = []
    previous = 0
    for arg in args:
        text = short_repr(arg)
        if previous > LINE:
            text = "\n" + text
        previous = len(text)
        parts.append(text)
    parts += [f"{key}={short_repr(value)}" for key, value in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def format_done(name: str, seconds: float, what: str = "") -> str:
    """``_____square - 0.0s, 0.0min``, right-aligned on 80 columns."""
    message = f"{name}{what} - {format_time(seconds)}"
    return "_" * max(0, LINE - len(message)) + message


def input_reprs(bound: Mapping[str, Any]) -> dict[str, str]:
    """Short reprs of the bound arguments, for ``metadata.json``."""
    return {name: short_repr(value) for name, value in bound.items()}


def format_duration(seconds: float) -> str:
    """``850 us``, ``12 ms``, ``3.4 s``, ``2 min 5 s``, ``3 h 20 min``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def format_size(nbytes: float) -> str:
    """``512 B``, ``1.5 KiB``, ``20.0 MiB``, ``1.2 GiB`` (powers of 1024)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def format_when(timestamp: Any) -> str:
    """A local date and time, or ``'at an unknown time'``."""
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
        return "at an unknown time"
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 entry``, ``2 entries``."""
    return f"{count} {word if count == 1 else (words or word + 's')}"
