"""Functions of ``__main__`` and of a REPL under every start method.

Python 3.14 makes ``forkserver`` the default on Linux; scripts and prompts
that define their functions in ``__main__`` must keep working with the
multiprocessing backend (and the process backend) whatever the method.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import multiprocessing, sys
    from joblet_parallel import Parallel, delayed

    def square(x):
        return x * x

    if __name__ == "__main__":
        multiprocessing.set_start_method(sys.argv[1], force=True)
        for backend in ("multiprocessing", "loky"):
            run = Parallel(n_jobs=2, backend=backend)
            print(run(delayed(square)(i) for i in range(4)))
            print(run(delayed(lambda x: x + 1)(i) for i in range(4)))
    """
)

PROMPT = textwrap.dedent(
    """
    import multiprocessing
    from joblet_parallel import Parallel, delayed
    multiprocessing.set_start_method("{method}", force=True)
    def negate(x): return -x

    print(Parallel(n_jobs=2, backend="multiprocessing")(delayed(negate)(i) for i in range(3)))
    """
)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_functions_of_a_script(tmp_path, method):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), method],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:4] == ["[0, 1, 4, 9]", "[1, 2, 3, 4]"] * 2


@pytest.mark.timeout(180)
@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_functions_typed_at_a_prompt(tmp_path, method):
    done = subprocess.run(
        [sys.executable, "-i", "-q"],
        input=PROMPT.format(method=method),
        capture_output=True,
        text=True,
        timeout=170,
        cwd=tmp_path,
    )
    assert "[0, -1, -2]" in done.stdout, done.stderr[-3000:]
