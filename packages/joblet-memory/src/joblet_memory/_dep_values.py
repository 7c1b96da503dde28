"""How module-level data a cached function reads is fingerprinted.

Two kinds, by how much the cache can trust them:

* **plain data** (numbers, strings, tuples and frozensets of them, small numpy
  arrays): immutable, so its digest is part of a function's code record like
  code is (:func:`constant_digest`);
* **state** (dicts, lists, sets, larger arrays, instances of the user's own
  classes): hashed by content when the function is first called in a
  process, up to :data:`MAX_STATE_BYTES` / :data:`MAX_STATE_ITEMS`; past that,
  or when it cannot be hashed, it is recorded by name as :data:`UNTRACKED`
  and the first call warns (:func:`state_digest`).
"""

from __future__ import annotations

from typing import Any

from joblet_hash import FAST_HASH_NAME, UnhashableObjectError
from joblet_hash import hash as hash_value

# Constants larger than this (in elements or bytes) are recorded by name only.
MAX_CONSTANT_ITEMS = 10_000
MAX_CONSTANT_BYTES = 1 << 20
# Module-level data hashed by content (mutable containers, arrays, instances)
# up to this size; larger values are recorded by name and warned about.
MAX_STATE_BYTES = 64 << 20
MAX_STATE_ITEMS = 100_000
UNTRACKED = "not tracked"

_SCALARS = (int, float, complex, str, bytes, bool, type(None), range)


def _is_plain_data(value: Any, budget: list[int]) -> bool:
    """Immutable data: numbers, strings, tuples and frozensets of them, small arrays.

    Lists, dicts and sets are left out: at module level they are often mutated
    (a memo, a registry), and would change the record from one run to the next.
    """
    budget[0] -= 1
    if budget[0] < 0:
        return False
    if isinstance(value, _SCALARS):
        return not isinstance(value, (str, bytes)) or len(value) <= MAX_CONSTANT_BYTES
    if isinstance(value, (tuple, frozenset)):
        return all(_is_plain_data(item, budget) for item in value)
    if type(value).__module__ == "numpy":
        nbytes = getattr(value, "nbytes", None)
        dtype = getattr(value, "dtype", None)
        return (
            isinstance(nbytes, int)
            and nbytes <= MAX_CONSTANT_BYTES
            and getattr(dtype, "hasobject", True) is False
        )
    return False


def constant_digest(value: Any) -> str | None:
    """The digest of a plain-data constant, or None if it is not plain data."""
    if not _is_plain_data(value, [MAX_CONSTANT_ITEMS]):
        return None
    try:
        return hash_value(value, FAST_HASH_NAME)
    except (UnhashableObjectError, RecursionError):
        return None


def is_array(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "nbytes")


def value_digest(value: Any) -> str:
    """A digest of ``value`` for a class's parts (its repr when it cannot hash)."""
    digest = constant_digest(value)
    if digest is None:
        digest, _why = state_digest(value)
    return digest if digest is not None else hash_value(repr(value), FAST_HASH_NAME)


def _state_size(value: Any, budget: list[int]) -> bool:
    """Whether ``value`` fits :data:`MAX_STATE_ITEMS` (counted into ``budget``)."""
    budget[0] -= 1
    if budget[0] < 0:
        return False
    if isinstance(value, dict):
        return all(
            _state_size(k, budget) and _state_size(v, budget) for k, v in value.items()
        )
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_state_size(item, budget) for item in value)
    return True


def state_digest(value: Any) -> tuple[str | None, str]:
    """``(digest, '')`` of module-level data, or ``(None, why it is not tracked)``."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int) and nbytes > MAX_STATE_BYTES:
        return None, f"{nbytes} bytes, more than {MAX_STATE_BYTES} hashed at first call"
    if not _state_size(value, [MAX_STATE_ITEMS]):
        return None, f"more than {MAX_STATE_ITEMS} items hashed at first call"
    try:
        return hash_value(value, FAST_HASH_NAME), ""
    except (UnhashableObjectError, RecursionError, TypeError, ValueError) as error:
        return None, f"cannot be hashed ({type(error).__name__})"
