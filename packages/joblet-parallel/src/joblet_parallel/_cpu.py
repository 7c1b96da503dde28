"""How many CPUs this process may use: affinity, cgroup quotas, physical cores."""

from __future__ import annotations

import math
import os

__all__ = ["cpu_count"]


def _cgroup_cpu_limit() -> float | None:
    """CPUs allowed by a cgroup quota (v2 ``cpu.max`` or v1 cfs), None if unlimited."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as handle:
            quota, period = handle.read().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as handle:
            quota_us = int(handle.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as handle:
            period_us = int(handle.read())
        if quota_us > 0 and period_us > 0:
            return quota_us / period_us
    except (OSError, ValueError):
        pass
    return None


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        try:
            return len(os.sched_getaffinity(0))
        except OSError:
            pass
    return os.cpu_count() or 1


def cpu_count(only_physical_cores: bool = False) -> int:
    """Number of CPUs this process can really use.

    The smallest of: the CPUs in the machine, the CPUs of this process's affinity
    mask, the cgroup CPU quota (containers, rounded up) and the
    ``JOBLET_MAX_CPU_COUNT`` (or joblib's ``LOKY_MAX_CPU_COUNT``) environment
    variable.

    Parameters
    ----------
    only_physical_cores : bool, default False
        Count physical cores only, not hyper-threads (when the platform does not
        say, the logical count is used).

    Returns
    -------
    int
        At least 1.
    """
    count = _usable_cpus()
    quota = _cgroup_cpu_limit()
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    for name in ("JOBLET_MAX_CPU_COUNT", "LOKY_MAX_CPU_COUNT"):
        value = os.environ.get(name)
        if value:
            try:
                count = min(count, max(1, int(float(value))))
            except ValueError:
                pass
            break
    if only_physical_cores:
        import psutil  # a dependency; imported only for this question

        physical = psutil.cpu_count(logical=False)
        if physical:
            count = min(count, physical)
    return max(1, count)
