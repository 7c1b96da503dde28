"""The values a restricted walk deals in, below the walk and its reconstructors.

The walk (:mod:`._walk`), the opcode loop (:mod:`._opcodes`) and the tables of
reconstructors (:mod:`._reconstructors`, :mod:`._numpy_rebuild`,
:mod:`._array_records`) all use these; keeping them here lets the walk import
its tables and loop without those importing the walk back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import TruncatedFileError

if TYPE_CHECKING:
    from ._walk import Walk

#: Budget charged per slot of a container (a reference) and per new container.
SLOT_BYTES = 8
CONTAINER_BYTES = 64


class Pending:
    """An object a reconstructor made, complete only once BUILD gives its state.

    Subclasses implement :meth:`finish`; the walk replaces the pending object
    by its result on the stack and in the memo. Used before its BUILD, or
    BUILT twice, it is refused.
    """

    done = False

    def finish(self, walk: Walk, state: Any) -> Any:
        """The finished object, from the BUILD ``state``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Ref:
    """A global in a dry walk: its name only, never imported."""

    name: str


@dataclass(eq=False)
class Opaque:
    """What a dry walk gets from a call it does not reconstruct (user code)."""

    name: str


@dataclass
class BufferInfo:
    """An out-of-band buffer in a dry walk: its size only."""

    nbytes: int
    kind: str = "buffer"


@dataclass
class Found:
    """What a walk saw: globals named, arrays and buffers with their sizes."""

    globals: list[str] = field(default_factory=list)
    arrays: list[dict[str, Any]] = field(default_factory=list)

    def name(self, full: str) -> None:
        if full not in self.globals:
            self.globals.append(full)


@dataclass
class JoblibInput:
    """What reading joblib's inline arrays needs besides the stream."""

    path: str | None = None
    mmap_mode: str | None = None
    file_size: int | None = None


def truncated(where: str, what: str) -> TruncatedFileError:
    return TruncatedFileError(
        f"{where} is truncated: its pickle stream ends inside {what}. "
        "Dump the data again."
    )
