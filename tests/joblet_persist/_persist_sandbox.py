"""Run untrusted loads in a child process with a memory limit and a timeout.

A crash (segfault), a memory blow-up or a hang then fails the one test that
caused it, with the child's output, instead of taking the suite down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Address-space limit of the child: numpy and the interpreter fit well inside,
#: a load that tries to build gigabytes does not.
MEMORY_LIMIT = 1 << 30
TIMEOUT = 60

_CHILD = r"""
import json, resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import joblet_persist
for request in json.loads(sys.argv[2]):
    try:
        if request["call"] == "load":
            value = joblet_persist.load(request["path"], **request["kwargs"])
        else:
            value = joblet_persist.inspect_file(request["path"])
        text = repr(value)  # reading every element: a bad pointer crashes here
    except BaseException as exc:
        result = {"error": type(exc).__name__, "message": str(exc)[:2000],
                  "types": [cls.__name__ for cls in type(exc).__mro__]}
    else:
        result = {"value": text[:2000]}
    print("RESULT " + json.dumps(result), flush=True)
"""


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    # one BLAS thread: each thread reserves address space the limit would count
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def run_in_child(
    requests: list[dict[str, Any]],
    memory: int = MEMORY_LIMIT,
    timeout: float = TIMEOUT,
) -> list[dict[str, Any]]:
    """Run the requests in order in one child.

    Each result is ``{"value": repr}`` or ``{"error": name, "types": mro, ...}``.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(memory), json.dumps(requests)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_environment(),
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{requests} did not finish in {timeout} s") from exc
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or len(lines) != len(requests):
        raise AssertionError(
            f"{requests} crashed the child (exit code {done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return [dict(json.loads(line[len("RESULT ") :])) for line in lines]


def load_request(path: str | Path, **kwargs: Any) -> dict[str, Any]:
    return {"call": "load", "path": str(path), "kwargs": kwargs}


def load_in_child(path: str | Path, **kwargs: Any) -> dict[str, Any]:
    """``load(path, **kwargs)`` in a child; see :func:`run_in_child`."""
    return run_in_child([load_request(path, **kwargs)])[0]


def inspect_in_child(path: str | Path) -> dict[str, Any]:
    """``inspect_file(path)`` in a child; see :func:`run_in_child`."""
    return run_in_child([{"call": "inspect", "path": str(path)}])[0]


def run_module_in_child(
    args: list[str], memory: int = MEMORY_LIMIT, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """``python -m joblet_persist ARGS`` in a child with the memory limit."""
    code = (
        "import resource, runpy, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
        "sys.argv = ['joblet_persist', *sys.argv[1:]]\n"
        "runpy.run_module('joblet_persist', run_name='__main__', alter_sys=True)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_environment(),
    )
