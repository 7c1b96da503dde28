"""How a result is written to and read from its file: joblet-persist.

The only module that knows the file format of outputs, so a store backend or a
test never depends on it.
"""

from __future__ import annotations

from typing import Any

from joblet_persist import dump, load

OUTPUT_NAME = "output.pkl"


def write_output(
    value: Any, path: str, compress: bool | int | str | tuple[str, int]
) -> None:
    """Write ``value`` to ``path`` atomically (a temporary file, then a rename)."""
    dump(value, path, compress=compress)


def read_output(path: str, mmap_mode: str | None) -> Any:
    """Read the value stored at ``path``; ``FileNotFoundError`` if it is absent."""
    return load(path, mmap_mode=mmap_mode)
