"""Running chunk (de)compression on a few threads, in order, with bounded memory.

Both facts live in joblet-hash, the layer below (:mod:`joblet_hash.threads`):
``thread_count`` is how many threads one dump or load uses (the usable CPUs, at
most 8) and ``ordered_map`` maps the chunks on them, results in order.
"""

from __future__ import annotations

from joblet_hash.threads import helper_thread_count as thread_count
from joblet_hash.threads import ordered_map

__all__ = ["ordered_map", "thread_count"]
