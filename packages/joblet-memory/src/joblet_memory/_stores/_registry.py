"""Choosing a store backend: the registry of backends by name, and URL locations.

``Memory(location, backend=..., backend_options=...)`` becomes a configured
backend here (:func:`make_store`): a folder is the ``'local'`` backend, a URL
(``'s3://bucket/prefix'``, ``'memory://x'``...) the ``'fsspec'`` one, and
:func:`register_store_backend` adds others by name.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from joblet_hash.names import unknown_name_message

from .._errors import UnknownStoreBackendError
from ._base import StoreBackendBase
from ._local import FileSystemStoreBackend
from ._signing import Signer

_STORE_BACKENDS: dict[str, type[StoreBackendBase]] = {"local": FileSystemStoreBackend}
# Registering may happen in any thread (free-threaded builds included).
_lock = threading.Lock()


def register_store_backend(backend_name: str, backend: type[StoreBackendBase]) -> None:
    """Make a store backend available to ``Memory(..., backend=backend_name)``.

    Parameters
    ----------
    backend_name : str
        The name given as ``Memory(backend=...)``.
    backend : subclass of StoreBackendBase
        The class; ``Memory`` instantiates it with no arguments, then calls
        :meth:`StoreBackendBase.configure`.
    """
    if not isinstance(backend_name, str):
        raise ValueError(f"store backend name must be a string, got {backend_name!r}")
    if not (isinstance(backend, type) and issubclass(backend, StoreBackendBase)):
        raise ValueError(
            f"store backend must be a subclass of StoreBackendBase, got {backend!r}"
        )
    with _lock:
        _STORE_BACKENDS[backend_name] = backend


def _split_url(location: str) -> tuple[str, str]:
    """``('s3', 's3://b/p')`` for a URL, ``('', location)`` for a path."""
    scheme, sep, rest = location.partition("://")
    if (
        not sep
        or not scheme.replace("+", "").replace("-", "").isalnum()
        or len(scheme) < 2
    ):
        return "", location  # a path (``C:\\x`` has a one-letter "scheme")
    if scheme == "file":
        return "", rest
    return scheme, location


def is_url(location: str) -> bool:
    """Whether ``location`` names a remote (fsspec) store rather than a folder."""
    return bool(_split_url(location)[0])


def make_store(
    location: Any,
    backend: str,
    verbose: int,
    backend_options: dict[str, Any] | None,
    *,
    signer: Signer | None = None,
    local_cache: str | os.PathLike[str] | None = None,
) -> StoreBackendBase | None:
    """The configured backend for ``location`` (None when caching is off).

    A URL location (``'s3://bucket/prefix'``, ``'memory://x'``...) selects the
    ``'fsspec'`` backend unless another one is named; ``file://`` URLs are
    local folders. ``signer`` (keys and trust of unsigned entries) and
    ``local_cache`` (read-through folder of remote stores) come from
    ``Memory``'s constructor.
    """
    if location is None:
        return None
    if isinstance(location, StoreBackendBase):
        return location
    if not isinstance(location, (str, os.PathLike)):
        raise TypeError(
            f"location must be a str, a pathlib.Path, a store backend or None, got {location!r}"
        )
    location = os.fspath(location)
    scheme, location = _split_url(location)
    if backend == "fsspec" or (scheme and backend == "local"):
        from ._fsspec import FsspecStoreBackend

        cls: type[StoreBackendBase] = FsspecStoreBackend
    else:
        try:
            cls = _STORE_BACKENDS[backend]
        except KeyError:
            with _lock:
                known = [*_STORE_BACKENDS, "fsspec"]
            raise UnknownStoreBackendError(
                f"{unknown_name_message('store backend', backend, known)} "
                "(add one with register_store_backend)"
            ) from None
    store = cls()
    store.configure(location, verbose=verbose, backend_options=backend_options)
    if signer is not None:
        store.signer = signer
    if local_cache is not None and hasattr(store, "set_local_cache"):
        store.set_local_cache(os.fspath(local_cache))
    store.from_location_alone = (
        not backend_options
        and (signer is None or signer.is_default)
        and local_cache is None
    )
    return store


def store_to_pickle(store: StoreBackendBase) -> StoreBackendBase | None:
    """``store``, or None when its location and backend name rebuild it exactly.

    Lets a pickled ``MemorizedResult`` stay small for a plain local cache.
    """
    return None if store.from_location_alone else store
