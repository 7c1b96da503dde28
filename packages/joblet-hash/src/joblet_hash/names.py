"""Messages for a name that was looked up and not found, with the closest match.

Every joblet distribution looks names up somewhere: backends, compressors,
store backends, keyword arguments of ``parallel_config`` and ``Memory``. This
module is the one home of how such a miss is worded, so that each says what was
asked for, what exists and, when one is close, which name was probably meant.
It lives in the lowest layer so that every sibling may import it.

>>> from joblet_hash.names import suggest_name, unknown_name_message
>>> suggest_name("lokky", ["loky", "threading", "sequential"])
'loky'
>>> unknown_name_message("backend", "threads", ["loky", "threading"])
"unknown backend 'threads' (did you mean 'threading'?); known: 'loky', 'threading'"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["suggest_name", "unknown_name_message"]

# difflib's default cutoff (0.6) misses common slips such as 'threads' for
# 'threading' on short names; 0.5 still rejects unrelated words.
_CUTOFF = 0.5


def suggest_name(name: object, known: Iterable[str]) -> str | None:
    """The known name closest to ``name``, or None when none is close.

    Parameters
    ----------
    name : object
        What the user gave; anything that is not a string has no suggestion.
    known : iterable of str
        The names that exist.

    Returns
    -------
    str or None
        The closest known name, compared case-insensitively.
    """
    if not isinstance(name, str):
        return None
    names = list(known)
    by_lower = {candidate.lower(): candidate for candidate in names}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=_CUTOFF)
    return by_lower[close[0]] if close else None


def unknown_name_message(kind: str, name: object, known: Iterable[str]) -> str:
    """``"unknown <kind> <name> (did you mean ...?); known: ..."``.

    Parameters
    ----------
    kind : str
        What was looked up, for example ``"backend"`` or ``"compressor"``.
    name : object
        What the user gave.
    known : iterable of str
        The names that exist, listed in the message in sorted order.

    Returns
    -------
    str
        The message, to be raised in the caller's own error type.
    """
    names = sorted(set(known))
    close = suggest_name(name, names)
    hint = f" (did you mean {close!r}?)" if close is not None else ""
    listed = ", ".join(repr(n) for n in names) or "none"
    return f"unknown {kind} {name!r}{hint}; known: {listed}"
