"""Which task arguments to scatter to the cluster once, instead of with every task.

An argument is scattered when it is large (numpy arrays by ``nbytes``, anything
else by ``dask.sizeof``). Scattered data is deduplicated twice: by object
identity (the same object passed to many tasks) and by content fingerprint
(equal arrays that are different objects), so it travels to the cluster once.
"""

from __future__ import annotations

import sys
from typing import Any

from joblet_hash import FAST_HASH_NAME, UnhashableObjectError
from joblet_hash import hash as fingerprint

#: Arguments at least this large (bytes) are scattered automatically.
DEFAULT_SCATTER_THRESHOLD = 1_000_000

# Small scalars: never worth a scatter (large str and bytes are).
_NEVER_SCATTERED = (type(None), bool, int, float, complex)


def estimated_size(obj: Any) -> int:
    """Bytes ``obj`` would take on the wire, cheaply estimated."""
    if type(obj) in _NEVER_SCATTERED:
        return 0
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(obj, numpy.ndarray):
        return int(obj.nbytes)
    from dask.sizeof import sizeof

    return int(sizeof(obj))


class ScatterCache:
    """Futures of scattered arguments, reused for as long as the backend lives.

    ``pinned`` holds what the user scattered up front (``scatter=[...]``), always
    reused; automatic entries follow the threshold.
    """

    def __init__(self, client: Any, threshold: int | None) -> None:
        self.client = client
        self.threshold = threshold
        # id(obj) -> (obj, future); obj is kept alive so its id is not reused.
        self._by_identity: dict[int, tuple[Any, Any]] = {}
        self._by_content: dict[str, Any] = {}

    def pin(self, objects: list[Any]) -> None:
        """Scatter ``objects`` to every worker now (the ``scatter=`` argument)."""
        if not objects:
            return
        futures = self.client.scatter(list(objects), broadcast=True, hash=False)
        for obj, future in zip(objects, futures, strict=True):
            self._by_identity[id(obj)] = (obj, future)

    def substitute(self, value: Any) -> Any:
        """The future standing for ``value`` if it is (to be) scattered, else ``value``."""
        known = self._by_identity.get(id(value))
        if known is not None:
            return known[1]
        if self.threshold is None or estimated_size(value) < self.threshold:
            return value
        try:
            content_key: str | None = fingerprint(value, hash_name=FAST_HASH_NAME)
        except UnhashableObjectError:
            content_key = None
        future = self._by_content.get(content_key) if content_key else None
        if future is None:
            # hash=False: content-keyed scatter inside workers is prone to
            # CancelledError (dask/distributed#3703); we deduplicate ourselves.
            # Wrapped in a list: scattering a list or dict directly would scatter
            # each of its elements separately.
            (future,) = self.client.scatter([value], hash=False)
            if content_key:
                self._by_content[content_key] = future
        self._by_identity[id(value)] = (value, future)
        return future

    def clear(self) -> None:
        self._by_identity.clear()
        self._by_content.clear()
