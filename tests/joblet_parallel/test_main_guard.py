"""backend='multiprocessing' in a script: the workers import the script again,
so a call at its top level, without ``if __name__ == "__main__":``, fails at
once with a message naming the guard (it used to start workers forever)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.timeout(60)

CALL = (
    "Parallel(n_jobs=2, backend='multiprocessing')(delayed(abs)(-i) for i in range(4))"
)


def run_script(tmp_path, body: str) -> tuple[subprocess.CompletedProcess[str], float]:
    script = tmp_path / "script.py"
    script.write_text(
        "from joblet_parallel import Parallel, delayed\n" + textwrap.dedent(body)
    )
    start = time.monotonic()
    # A session of its own: on a timeout, its workers are stopped with it.
    with subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    ) as child:
        try:
            out, err = child.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            out, err = child.communicate()
            pytest.fail(f"the script hung for 30 s; stderr ends with: {err[-2000:]}")
    done = subprocess.CompletedProcess(child.args, child.returncode, out, err)
    return done, time.monotonic() - start


def test_a_top_level_call_without_the_guard_fails_fast(tmp_path):
    done, seconds = run_script(tmp_path, f"print({CALL})\n")
    assert done.returncode != 0
    assert 'if __name__ == "__main__":' in done.stderr
    assert "script.py" in done.stderr
    assert done.stderr.count("Traceback") == 1  # no worker started
    assert seconds < 10  # the interpreter and imports; the check itself is instant


def test_a_call_reached_from_an_unguarded_function_call_fails_fast(tmp_path):
    done, _ = run_script(tmp_path, f"def main():\n    return {CALL}\n\nmain()\n")
    assert done.returncode != 0
    assert 'if __name__ == "__main__":' in done.stderr


def test_a_guarded_script_runs(tmp_path):
    done, _ = run_script(
        tmp_path,
        f"""
        def main():
            return {CALL}

        if __name__ == "__main__":
            print(main())
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 1, 2, 3]"
