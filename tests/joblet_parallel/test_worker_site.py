"""Process workers run ``site`` as their parent does.

``site`` runs the ``.pth`` files (editable installs' import hooks, coverage's
subprocess start) and ``sitecustomize``. A worker started without it also
passes ``-S`` on to what its tasks start with the interpreter's flags, as
multiprocessing and loky start their helper processes, and those then miss
``site-packages``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from joblet_parallel import Parallel, delayed

pytestmark = pytest.mark.timeout(60)


def site_flags() -> tuple[int, int]:
    return sys.flags.no_site, sys.flags.no_user_site


def start_python_with_my_flags(code: str) -> int:
    # how multiprocessing's resource tracker and loky start a helper process
    flags = subprocess._args_from_interpreter_flags()
    return subprocess.run([sys.executable, *flags, "-c", code], check=False).returncode


def test_a_worker_has_the_parents_site_flags():
    (flags,) = Parallel(n_jobs=2, backend="loky")(delayed(site_flags)() for _ in [0])
    assert flags == site_flags()


@pytest.mark.skipif(sys.flags.no_site, reason="the tests themselves run without site")
def test_a_process_started_by_a_task_with_the_interpreter_flags_finds_site_packages():
    # psutil is installed in site-packages, never on a source path
    (code,) = Parallel(n_jobs=2, backend="loky")(
        delayed(start_python_with_my_flags)("import psutil") for _ in [0]
    )
    assert code == 0
