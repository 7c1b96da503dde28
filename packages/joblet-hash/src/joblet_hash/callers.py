"""Warnings that point at the user's line: one home for every joblet distribution.

A warning raised deep inside a package should show the line of the user's code
that called into it, not a frame of the package, the user's own function or
``sys:1``. A hard-coded ``stacklevel`` is right for one call path only;
:func:`find_stack_level` walks the stack instead (the rule pandas uses). Each
distribution passes its own package folder, so a warning of joblet-memory
raised while joblet-parallel runs a task points at the user's line that called
the cached function. joblet-hash is the lowest layer, so the siblings import
this module (``from joblet_hash.callers import warn_at_caller``); it is not part
of the user API that ``joblet`` re-exports.
"""

from __future__ import annotations

import inspect
import os
import warnings

__all__ = ["find_stack_level", "package_folder", "warn_at_caller"]

_THIS_FILE = os.path.abspath(__file__)


def package_folder(module_file: str) -> str:
    """The folder of the package that ``module_file`` (a ``__file__``) belongs to."""
    return os.path.dirname(os.path.abspath(module_file))


def find_stack_level(folder: str) -> int:
    """The ``stacklevel`` of the first caller frame outside ``folder``.

    Level 1 is the frame that calls this function, as for the ``stacklevel``
    of a :func:`warnings.warn` call made in that frame. Frames of this module
    are skipped too, so :func:`warn_at_caller` needs no correction.

    Parameters
    ----------
    folder : str
        A package folder (see :func:`package_folder`); frames whose file lies
        in it, or in one of its subfolders, are skipped.
    """
    prefix = folder.rstrip(os.sep) + os.sep
    here = inspect.currentframe()  # a frame, without inspect.stack()'s file reads
    if here is None or here.f_back is None:  # an interpreter without frames
        return 1
    frame = here.f_back
    level = 1
    while frame.f_back is not None and _is_inside(frame.f_code.co_filename, prefix):
        frame = frame.f_back
        level += 1
    return level


def _is_inside(filename: str, prefix: str) -> bool:
    path = os.path.abspath(filename)
    return path == _THIS_FILE or path.startswith(prefix)


def warn_at_caller(
    message: Warning | str, category: type[Warning], folder: str
) -> None:
    """Issue ``message`` at the first caller frame outside ``folder``.

    Parameters
    ----------
    message : Warning or str
        The warning, as for :func:`warnings.warn`.
    category : type of Warning
        Its category (ignored when ``message`` is a Warning instance).
    folder : str
        The warning package's folder (see :func:`package_folder`).
    """
    warnings.warn(message, category, stacklevel=find_stack_level(folder))
