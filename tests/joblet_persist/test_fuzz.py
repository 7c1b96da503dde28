"""Damaged input raises FormatError (or a subclass) only: mutation fuzzing of load.

Each family's mutations run in a child process with a memory limit and a
timeout (``_persist_fuzz.py``), so a crash, a blow-up or a hang fails the test.
The seeds are fixed: a failure reproduces, and its inputs are in the message.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from _persist_sandbox import MEMORY_LIMIT, child_environment

pytest.importorskip("numpy")
pytest.importorskip("lz4")

FUZZER = pathlib.Path(__file__).with_name("_persist_fuzz.py")
MUTATIONS = 2000


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("target", "family", "seed"),
    [
        ("load", "joblet", 13),
        ("load", "pickle", 11),
        ("load", "joblib", 12),
        ("inspect", "joblet", 21),
        ("inspect", "pickle", 22),
        ("inspect", "joblib", 23),
    ],
)
def test_mutations_raise_only_documented_errors(target, family, seed):
    command = [target, family, str(seed), str(MUTATIONS), str(MEMORY_LIMIT)]
    done = subprocess.run(
        [sys.executable, str(FUZZER), *command],
        capture_output=True,
        text=True,
        timeout=240,
        env=child_environment(),
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    crashed = (
        f"the fuzzer crashed (exit code {done.returncode}):\n{done.stderr[-3000:]}"
    )
    assert done.returncode == 0, crashed
    assert lines, crashed
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result["mutations"] == MUTATIONS
    assert result["undocumented"] == {}, json.dumps(result["undocumented"], indent=1)[
        :6000
    ]
