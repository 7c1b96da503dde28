"""Large numpy arguments of process backends travel as memory maps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._call_settings import CallSettings
from .._memmapping import ArrayMemmapper


class _SharesLargeArrays:
    """For process backends: large numpy arguments travel as memory maps.

    The memmapper lives from :meth:`configure` to :meth:`terminate`, that is for
    one call or one ``with Parallel(...)`` block, so an array is dumped once there.
    """

    _memmapper: ArrayMemmapper | None = None

    def _prepare_memmapping(self, call: CallSettings | None, pool: Any = None) -> None:
        """Called by ``configure`` at each call; ``pool`` is the shared pool whose
        life written arrays may share between calls outside a ``with`` block."""
        call = call or CallSettings()
        settings = (call.max_nbytes, call.mmap_mode, call.temp_folder)
        memmapper = self._memmapper
        if memmapper is not None and memmapper.settings() == ArrayMemmapper.normalize(
            *settings
        ):
            memmapper.start_call()
            return
        self._cleanup_memmapping()
        # a with block: its own files
        self._memmapper = ArrayMemmapper(*settings, pool=None if call.managed else pool)

    def _task_reducers(
        self, extra: dict[type, Callable[[Any], Any]] | None
    ) -> dict[type, Any]:
        reducers = self._memmapper.reducers() if self._memmapper is not None else {}
        if extra:
            reducers.update(extra)  # reducers given by the user win
        return reducers

    def _cleanup_memmapping(self) -> None:
        memmapper, self._memmapper = self._memmapper, None
        if memmapper is not None:
            memmapper.cleanup()
