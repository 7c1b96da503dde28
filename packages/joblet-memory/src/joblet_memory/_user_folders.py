"""The user's own folders for joblet: configuration and cache (XDG aware).

The configuration folder keeps the default signing key (see :mod:`._signing`),
the cache folder the local copies of remote results (see :mod:`._local_copies`).
"""

from __future__ import annotations

import os
import sys
from typing import Literal

# kind -> (the XDG variable, its default under the home folder, the Windows one)
_FOLDERS = {
    "config": ("XDG_CONFIG_HOME", ".config", "APPDATA"),
    "cache": ("XDG_CACHE_HOME", ".cache", "LOCALAPPDATA"),
}


def user_folder(kind: Literal["config", "cache"]) -> str:
    """``$XDG_CONFIG_HOME/joblet`` or ``$XDG_CACHE_HOME/joblet``.

    By default ``~/.config/joblet`` and ``~/.cache/joblet``; on Windows under
    ``%APPDATA%`` and ``%LOCALAPPDATA%``.
    """
    xdg_variable, home_default, windows_variable = _FOLDERS[kind]
    if sys.platform == "win32":  # pragma: no cover - not tested on Linux CI
        base = os.environ.get(windows_variable) or os.path.expanduser("~")
    else:
        base = os.environ.get(xdg_variable) or os.path.join(
            os.path.expanduser("~"), home_default
        )
    return os.path.join(base, "joblet")
