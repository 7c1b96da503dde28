"""Run untrusted loads in a child process with a memory limit and a timeout.

A crash (segfault), a memory blow-up or a hang then fails the one test that
caused it, with the child's output, instead of taking the suite down.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from joblet_test_helpers import MEMORY_LIMIT, TIMEOUT, run_limited

# test_fuzz.py starts its fuzzer child with the same environment
from joblet_test_helpers import child_environment as child_environment

_CHILD = r"""
import json, sys
import joblet_persist
for request in json.loads(sys.argv[1]):
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


def run_in_child(
    requests: list[dict[str, Any]],
    memory: int = MEMORY_LIMIT,
    timeout: float = TIMEOUT,
) -> list[dict[str, Any]]:
    """Run the requests in order in one child.

    Each result is ``{"value": repr}`` or ``{"error": name, "types": mro, ...}``.
    """
    done = run_limited(_CHILD, [json.dumps(requests)], memory, timeout)
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
        "import runpy, sys\n"
        "sys.argv = ['joblet_persist', *sys.argv[1:]]\n"
        "runpy.run_module('joblet_persist', run_name='__main__', alter_sys=True)\n"
    )
    return run_limited(code, args, memory, timeout)
