"""Where warnings of joblet-parallel point: at the user's line.

Every warning of the package goes through :func:`warn`, which walks the stack
to the first frame outside the package (joblet-hash's
:func:`~joblet_hash.callers.warn_at_caller`) instead of a ``stacklevel`` that
is right for one call path only.
"""

from __future__ import annotations

from joblet_hash.callers import package_folder, warn_at_caller

#: The folder of joblet_parallel (this module is at its top): its frames,
#: subpackages included, are skipped.
PACKAGE_FOLDER = package_folder(__file__)


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue ``message`` at the user's line that called into joblet-parallel."""
    warn_at_caller(message, category, PACKAGE_FOLDER)
