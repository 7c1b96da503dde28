"""Recurring type unions of joblet-memory's API (``compress`` is joblet-persist's)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, TypeAlias

#: ``bytes_limit``: a number of bytes or a size string (``'1G'``, ``'500MiB'``).
BytesLimit: TypeAlias = int | str | None
#: ``age_limit``: a ``timedelta``, seconds, or a duration string (``'7d'``).
AgeLimit: TypeAlias = datetime.timedelta | float | str | None
#: ``cache_validation_callback(metadata) -> bool``: False makes a hit a miss.
ValidationCallback: TypeAlias = Callable[[dict[str, Any]], bool]
#: ``Memory.cache(mmap_mode=...)``: a mode, None, or False for the Memory's own.
MmapModeOverride: TypeAlias = str | bool | None
