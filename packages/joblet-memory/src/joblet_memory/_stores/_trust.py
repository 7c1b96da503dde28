"""Whether a cache folder can be read without signatures: the threat model.

Loading a cached result unpickles it, which can run code. Who could have put
the file there decides whether that is a risk:

* A folder that **only you can write** (owned by you, no group or other write
  bit, and every folder above it owned by you or root and not writable by
  others unless sticky, as ``/tmp`` is) can only hold what you, or a program
  running as you, put there. Whoever can write into it can already run code as
  you, so a signature would protect nothing: such a cache is trusted as it is,
  like joblib's, pip's or Jupyter's caches. Copying a cache into such a folder
  (a CI cache restore, a container image, a colleague's folder copied with
  ``cp -r``) gives hits.
* A folder **others can write** (``permissions='group'``, a group- or
  world-writable folder, a folder owned by someone else, a folder below one
  that others may rename) and every remote store (fsspec, S3) may hold files
  planted by someone else: their entries are signed with the cache's key and
  checked before anything is unpickled.
* ``Memory(signing_key=...)`` or the ``JOBLET_CACHE_KEY`` environment variable
  opts any location in: its entries are then always signed and checked.

The check is ssh's ``StrictModes`` rule, applied to the cache folder and its
parents; it runs once per store and process.
"""

from __future__ import annotations

import os
import stat

__all__ = ["why_not_private"]

_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def why_not_private(folder: str) -> str | None:
    """Why others could plant files in ``folder``, or None if only you can.

    Parameters
    ----------
    folder : str
        The cache folder. One that does not exist yet is judged by its parents
        alone: the store creates it with mode 0700.

    Returns
    -------
    str or None
        A sentence naming the folder and the reason, for messages and
        ``Memory.explain``; None when the folder is private to this user.
    """
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: no POSIX modes
        return "file modes cannot be checked on this platform"
    uid = os.getuid()
    path = os.path.realpath(folder)  # links chosen by the user: judge targets
    own = True  # the cache folder itself must be the user's own
    while True:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            own = False  # created later by the store, private
            info = None
        except OSError as error:
            return f"{path} cannot be checked ({error.strerror})"
        if info is not None:
            reason = _judge(path, info, uid, own)
            if reason is not None:
                return reason
            own = False
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _judge(path: str, info: os.stat_result, uid: int, own: bool) -> str | None:
    """Why ``path`` lets others in: the cache folder itself, or a folder above."""
    if stat.S_ISLNK(info.st_mode):  # swapped in since realpath: not private
        return f"{path} became a symbolic link while being checked"
    if own:
        if info.st_uid != uid:
            return f"{path} is owned by another user (uid {info.st_uid})"
        if info.st_mode & _OTHERS_WRITE:
            return f"{path} is writable by its group or by others"
        return None
    if info.st_uid not in (uid, 0):
        return f"{path}, above the cache, is owned by another user"
    if info.st_mode & _OTHERS_WRITE and not info.st_mode & stat.S_ISVTX:
        return (
            f"{path}, above the cache, is writable by others without the sticky "
            "bit (they could replace the cache folder)"
        )
    return None
