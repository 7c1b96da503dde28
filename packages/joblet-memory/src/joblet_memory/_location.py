"""The one home of how a ``location`` argument is checked and normalised."""

from __future__ import annotations

import os
from typing import Any


def normalize_location(location: Any) -> Any:
    """``str`` for paths (``pathlib.Path`` included), other values unchanged.

    Raises
    ------
    ValueError
        If the location is an existing file, not a folder: nothing could ever
        be cached there.
    """
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    if isinstance(location, str) and os.path.isfile(location):
        raise ValueError(
            f"the cache location {location!r} is an existing file, not a folder; "
            "give Memory a folder (it is created if missing), for example "
            f"{os.path.join(os.path.dirname(location) or '.', 'cachedir')!r}"
        )
    return location
