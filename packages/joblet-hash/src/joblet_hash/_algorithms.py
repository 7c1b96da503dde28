"""Hash algorithms: names, hasher objects, and fast digests of large buffers.

Measured on the 2-core development machine, 500 MB float64 array fed from memory
(``python tools/bench_hash.py`` prints the current figures):

===========  ==============  ======================
algorithm    one thread      2 threads, 4 MiB tree
===========  ==============  ======================
xxh3_128     ~30 GB/s        ~30 GB/s (memory bound)
sha1         ~1.8 GB/s       ~3.5 GB/s
sha256       ~1.7 GB/s       ~3.3 GB/s
blake2b      ~0.9 GB/s       ~1.7 GB/s
md5          ~0.7 GB/s       ~1.4 GB/s
===========  ==============  ======================

So xxh3_128 is the fast algorithm (``FAST_HASH_NAME``), fed in one stream; the
cryptographic ones hash large buffers as a tree of 4 MiB chunks on a few threads
(``hashlib`` releases the GIL), which doubles their speed on two cores.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import xxhash

from .names import suggest_name
from .threads import helper_thread_count, ordered_map

if TYPE_CHECKING:  # the thread pool is imported when a large buffer needs it
    from concurrent.futures import ThreadPoolExecutor


class Hasher(Protocol):
    def update(self, data: Any, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


_FACTORIES: dict[str, Callable[[], Hasher]] = {
    "md5": lambda: hashlib.md5(usedforsecurity=False),
    "sha1": lambda: hashlib.sha1(usedforsecurity=False),
    "sha256": hashlib.sha256,
    "blake2b": lambda: hashlib.blake2b(digest_size=16),
    "xxh3_128": xxhash.xxh3_128,
}

#: Every value ``hash(..., hash_name=...)`` accepts.
HASH_NAMES: tuple[str, ...] = tuple(_FACTORIES)
#: The fastest algorithm; what ``Memory`` uses for its keys.
FAST_HASH_NAME = "xxh3_128"

# Algorithms that are faster fed in one stream than split across threads.
_STREAMED = frozenset({"xxh3_128"})

#: Size of one leaf of the tree hash. Part of the digest format: never change it.
CHUNK_BYTES = 4 * 1024 * 1024


def check_hash_name(hash_name: str) -> str:
    """Return ``hash_name`` if valid, else raise a ValueError listing the valid ones."""
    if hash_name not in _FACTORIES:
        # With joblib's wording ("Valid options for 'hash_name' are"), which
        # code written against joblib may match.
        close = suggest_name(hash_name, HASH_NAMES)
        hint = f" (did you mean {close!r}?)" if close is not None else ""
        raise ValueError(
            f"unknown hash_name {hash_name!r}{hint}. Valid options for 'hash_name' "
            f"are {list(HASH_NAMES)!r} ({FAST_HASH_NAME!r} is the fastest)"
        )
    return hash_name


def new_hasher(hash_name: str) -> Hasher:
    """A fresh hasher object for a valid ``hash_name``."""
    return _FACTORIES[check_hash_name(hash_name)]()


def digest_chunks(hash_name: str, chunks: Iterable[Any], total_bytes: int) -> bytes:
    """Digest of a byte stream given as consecutive chunks.

    ``chunks`` must be cut every :data:`CHUNK_BYTES` (rounded down to whole items
    by the caller, the same way for the same dtype) because the cryptographic
    algorithms hash streams longer than one chunk as a tree: the digest of the
    concatenated digests of the chunks, computed on a few threads.
    """
    factory = _FACTORIES[hash_name]
    if hash_name in _STREAMED or total_bytes <= CHUNK_BYTES:
        hasher = factory()
        for chunk in chunks:
            hasher.update(chunk)
        return hasher.digest()

    def leaf(chunk: Any) -> bytes:
        leaf_hasher = factory()
        leaf_hasher.update(chunk)
        return leaf_hasher.digest()

    root = factory()
    for leaf_digest in _leaf_digests(leaf, chunks):
        root.update(leaf_digest)
    return root.digest()


# --- a small shared thread pool for leaf digests ----------------------------------

_pool: ThreadPoolExecutor | None = None  # created when a large buffer needs it
_pool_threads = 1
_pool_lock = threading.Lock()


def _get_pool() -> tuple[ThreadPoolExecutor, int]:
    global _pool, _pool_threads
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _pool_threads = helper_thread_count()
            _pool = ThreadPoolExecutor(_pool_threads, thread_name_prefix="joblet-hash")
        return _pool, _pool_threads


def _forget_pool_after_fork() -> None:
    # A forked child inherits the pool object but not its threads.
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _leaf_digests(
    leaf: Callable[[Any], bytes], chunks: Iterable[Any]
) -> Iterator[bytes]:
    """``map(leaf, chunks)`` on the shared pool, in order.

    At most two chunks per thread are in flight, so that chunk copies of a
    non-contiguous array never pile up in memory.
    """
    pool, threads = _get_pool()
    return ordered_map(leaf, chunks, threads, pool, ahead=2 * threads)
