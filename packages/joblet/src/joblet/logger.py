"""``joblet.logger``: joblib's ``logger`` module, re-exported from joblet-parallel."""

from joblet_parallel.logger import (
    Logger,
    PrintTime,
    format_time,
    pformat,
    short_format_time,
)

__all__ = ["Logger", "PrintTime", "format_time", "pformat", "short_format_time"]
