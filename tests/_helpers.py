"""Helpers shared by the test folders: loading a helper file, and limited children.

``tests/conftest.py`` loads this file as the module ``joblet_test_helpers``
before any test module is imported, so every folder can write
``from joblet_test_helpers import run_limited``: the suite runs with
``--import-mode=importlib``, where test folders are not packages and a helper
beside a test cannot be imported by name. Standard library only, since each
distribution's isolated session loads it too.

Untrusted or damaged input is read in a child process with a memory limit and
a timeout (:func:`run_limited`), so that a crash, a blow-up or a hang fails the
one test that caused it instead of taking the suite down.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

#: Address-space limit of a child: numpy and the interpreter fit well inside, a
#: load that tries to build gigabytes does not.
MEMORY_LIMIT = 1 << 30
#: Seconds a child may run.
TIMEOUT = 60


def load_helper(path: str | os.PathLike[str], name: str | None = None) -> ModuleType:
    """Import the Python file ``path`` as the module ``name`` (default: its stem).

    The module goes into ``sys.modules``, so test modules import it by name.
    """
    path = Path(path)
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def child_environment() -> dict[str, str]:
    """The environment of a limited child: this one, with one BLAS thread.

    Each BLAS thread reserves address space that the limit would count.
    """
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def limited_code(code: str, memory: int = MEMORY_LIMIT) -> str:
    """``code`` preceded by setting the address-space limit to ``memory`` bytes."""
    return (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
        "del resource\n" + code
    )


def run_limited(
    code: str,
    args: Sequence[str] = (),
    memory: int = MEMORY_LIMIT,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code args...`` with ``memory`` bytes of address space.

    Returns the finished process (output captured as text; the caller checks
    its return code). A child still running after ``timeout`` seconds is
    killed and the test fails with an ``AssertionError`` naming the code.
    """
    try:
        return subprocess.run(
            [sys.executable, "-c", limited_code(code, memory), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        first_line = code.strip().splitlines()[0] if code.strip() else ""
        raise AssertionError(
            f"a limited child ({first_line!r}..., args {list(args)}) did not finish "
            f"in {timeout} s"
        ) from exc


#: Names of the threads joblet-parallel and joblet-dask start.
JOBLET_THREADS = (
    "joblet-thread",
    "joblet-writer",
    "joblet-reader",
    "joblet-watchdog",
    "joblet-rm",
    "joblet-dask-watch",
)
#: Children that are not joblet's: multiprocessing's helpers, kept for the
#: life of this process, and joblib's own reusable executor (tests compare
#: with joblib), which joblib keeps on purpose.
NOT_JOBLETS = (
    "multiprocessing.resource_tracker",
    "multiprocessing.forkserver",
    "joblib.externals.loky",
)


def leftover_threads() -> list[str]:
    """The names of joblet's threads still alive in this process."""
    import threading

    return sorted(
        thread.name
        for thread in threading.enumerate()
        if thread.is_alive() and thread.name.startswith(JOBLET_THREADS)
    )


def leftover_children() -> list[str]:
    """This process's Python children still running, but ``NOT_JOBLETS``.

    Python processes only: other tests' servers (SeaweedFS's ``weed``, started
    by the memory tests and stopped later) are not joblet's.
    """
    try:
        import psutil
    except ImportError:  # the thread and folder checks still run
        return []
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            arguments = child.cmdline()
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:  # it ended meanwhile
            continue
        command = " ".join(arguments)
        if not arguments or "python" not in os.path.basename(arguments[0]):
            continue
        if not any(other in command for other in NOT_JOBLETS):
            found.append(f"{child.pid}: {command[:120]}")
    return found
