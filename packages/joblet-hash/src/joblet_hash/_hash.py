"""The public ``hash`` function."""

from __future__ import annotations

from typing import Any

from ._algorithms import check_hash_name, new_hasher
from ._canonical import Canonicalizer, pickle_canonical


def hash(obj: Any, hash_name: str = "md5", coerce_mmap: bool = False) -> str:
    """Quick calculation of a deterministic hash to identify ``obj``.

    Equal values give equal hashes in any process of one installation, whatever
    their identity, dict insertion order, set order or string interning. Values
    that differ (content, type, array dtype, shape, memory order or byte order)
    give different hashes. numpy arrays and buffers are hashed straight from
    memory, without a pickled copy.

    Parameters
    ----------
    obj : object
        The value to hash: builtins, nested containers, numpy arrays, scalars and
        dtypes, functions and classes (by module and qualified name), bound
        methods, partials, and any object pickle can reduce. Recursive structures
        are fine.
    hash_name : {'md5', 'sha1', 'sha256', 'blake2b', 'xxh3_128'}, default 'md5'
        The algorithm. ``'xxh3_128'`` (:data:`FAST_HASH_NAME`) hashes large arrays
        about 30 times faster than joblib's md5; ``'md5'`` is the joblib default.
    coerce_mmap : bool, default False
        Make a ``numpy.memmap`` hash like the ndarray with the same content.

    Returns
    -------
    str
        The hexadecimal digest (32 characters for md5, blake2b and xxh3_128).

    Raises
    ------
    ValueError
        If ``hash_name`` is not one of the names above.
    UnhashableObjectError
        If something inside ``obj`` (a lock, a generator, an open socket) has no
        deterministic content; the message says where it sits, for example
        ``obj[1]['model'].lock``.

    Examples
    --------
    >>> from joblet_hash import hash
    >>> hash({"a": 1, "b": [1, 2]}) == hash({"b": [1, 2], "a": 1})
    True
    >>> len(hash("joblet", hash_name="xxh3_128"))
    32
    """
    check_hash_name(hash_name)
    tree = Canonicalizer(hash_name, coerce_mmap).canon(obj)
    hasher = new_hasher(hash_name)
    pickle_canonical(tree, hasher.update)
    return hasher.hexdigest()
