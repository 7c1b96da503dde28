"""How many CPUs this process may use: joblet-hash's usable count (affinity,
cgroup quotas), the environment's caps, physical cores."""

from __future__ import annotations

import os

__all__ = ["cpu_count"]


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
    # Imported here: worker processes load this module without asking.
    from joblet_hash.threads import usable_cpu_count

    count = usable_cpu_count()
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
