"""Batch sizes that aim at a batch duration (joblib's heuristic)."""

from __future__ import annotations

from typing import Any


class AutoBatchingMixin:
    """Batch sizes that aim at a batch duration (joblib's heuristic).

    Starts at one task per batch; while batches take less than
    ``MIN_IDEAL_BATCH_DURATION`` the size grows (at most ``BATCH_GROWTH`` times
    per step), and it shrinks when batches take more than
    ``MAX_IDEAL_BATCH_DURATION``.
    """

    MIN_IDEAL_BATCH_DURATION = 0.2
    MAX_IDEAL_BATCH_DURATION = 2.0
    BATCH_GROWTH = 2
    _DEFAULT_EFFECTIVE_BATCH_SIZE = 1
    _DEFAULT_SMOOTHED_BATCH_DURATION = 0.0

    parallel: Any

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._effective_batch_size = self._DEFAULT_EFFECTIVE_BATCH_SIZE
        self._smoothed_batch_duration = self._DEFAULT_SMOOTHED_BATCH_DURATION

    def compute_batch_size(self) -> int:
        old = self._effective_batch_size
        duration = self._smoothed_batch_duration
        if 0 < duration < self.MIN_IDEAL_BATCH_DURATION:
            ideal = int(old * self.MIN_IDEAL_BATCH_DURATION / duration) * 2
            size = max(min(self.BATCH_GROWTH * old, ideal), 1)
        elif duration > self.MAX_IDEAL_BATCH_DURATION and old >= 2:
            ideal = int(old * self.MIN_IDEAL_BATCH_DURATION / duration)
            size = max(2 * ideal, 1)
        else:
            size = old
        if size != old:
            self._effective_batch_size = size
            self._smoothed_batch_duration = self._DEFAULT_SMOOTHED_BATCH_DURATION
            settings = getattr(self, "settings", None)
            if settings is not None and settings.verbose >= 10 and settings.log:
                settings.log(
                    f"Batch computation too {'fast' if size > old else 'slow'} "
                    f"({duration:.4f}s.) Setting batch_size={size}."
                )
        return size

    def batch_completed(self, batch_size: int, duration: float) -> None:
        if batch_size == self._effective_batch_size:
            old = self._smoothed_batch_duration
            if old == self._DEFAULT_SMOOTHED_BATCH_DURATION:
                self._smoothed_batch_duration = duration
            else:
                self._smoothed_batch_duration = 0.8 * old + 0.2 * duration

    def reset_batch_stats(self) -> None:
        self._effective_batch_size = self._DEFAULT_EFFECTIVE_BATCH_SIZE
        self._smoothed_batch_duration = self._DEFAULT_SMOOTHED_BATCH_DURATION
