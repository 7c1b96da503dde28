"""The gallery's examples: what sphinx-gallery checks, and a standalone runner.

``docs/examples/plot_*.py`` are sphinx-gallery scripts: a module docstring with
an RST title, then cells separated by ``# %%`` (or a line of ``#``) whose
comments are prose. ``nox -s docs`` executes each one while building the site
(its printed output and matplotlib figures go into the page) and
:class:`LeftoverCheck` fails the build when an example leaves files in the temp
dir or in the folder it ran in.

    python docs/gallery.py [--only NAME ...]

runs the examples the way a user would, each in a fresh interpreter in an empty
temporary folder; ``nox -s demo`` does the same. The exit status is non-zero if
one fails, times out or leaves a file behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
EXAMPLES = DOCS / "examples"
TIME_LIMIT_S = 120


def examples() -> list[Path]:
    return sorted(EXAMPLES.glob("plot_*.py"))


# multiprocessing's own temp folder lives until the interpreter exits, which it
# removes then (the docs session checks the temp dir after that).
_REMOVED_AT_EXIT = ("pymp-",)


def _leftovers() -> Any:
    """``tools/leftovers.py``, the leftover check the nox sessions use too."""
    tools = str(DOCS.parent / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import leftovers

    return leftovers


class LeftoverCheck:
    """A sphinx-gallery ``reset_modules`` hook: an example leaves nothing behind.

    Called before and after each example; after it, an entry that the example
    left in the temp dir, in /tmp (where SeaweedFS puts its sockets) or in the
    examples folder (sphinx-gallery's working directory) is an error naming the
    example and the files. The examples folder is the build's own; in the shared
    temp folders only what the example's processes made counts (see
    ``tools/leftovers.py``), unless ``nox -s docs`` made the temp dir for this
    build alone.
    """

    def __init__(self) -> None:
        self._watch: Any = None

    def __repr__(self) -> str:  # stable, so Sphinx does not rebuild everything
        return "LeftoverCheck()"

    def __call__(self, gallery_conf: dict[str, Any], fname: str, when: str) -> None:
        leftovers = _leftovers()
        watch, self._watch = self._watch, None
        if when == "before":
            if watch is not None:  # the previous example failed before "after"
                watch.__exit__()
            temp = tempfile.gettempdir()
            own_temp = os.environ.get(leftovers.RUN_TMPDIR_ENV) == temp
            places = [leftovers.Place(Path(temp), ours=own_temp)]
            if Path("/tmp").is_dir() and Path(temp) != Path("/tmp"):
                places.append(leftovers.Place(Path("/tmp")))
            places.append(leftovers.Place(EXAMPLES, ours=True))
            self._watch = leftovers.Watch(
                places, removed_later=_REMOVED_AT_EXIT
            ).start()
            return
        if watch is None:
            return
        # Workers that an example leaves to their pool's idle timeout would hold
        # the build for the whole wait: a few seconds is enough for an exit.
        findings = watch.stop(settle=3)
        if not findings.ok:
            raise RuntimeError(
                f"example {fname} left files behind:\n{findings.summary()}"
            )


def run(scripts: list[Path]) -> list[tuple[str, float, bool]]:
    """Run each script alone; return (name, seconds, succeeded) per script."""
    results = []
    for script in scripts:
        workdir = tempfile.mkdtemp(prefix="joblet-gallery-")
        # dask's scratch space (default: <tmp>/dask-scratch-space) goes to a
        # folder of its own, removed with the working folder.
        scratch = tempfile.mkdtemp(prefix="joblet-gallery-dask-")
        env = dict(
            os.environ,
            DASK_TEMPORARY_DIRECTORY=scratch,
            MPLBACKEND="Agg",
            PYTHONUNBUFFERED="1",
        )
        start = time.perf_counter()
        try:
            completed = subprocess.run(
                [sys.executable, str(script)],
                cwd=workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=TIME_LIMIT_S,
            )
            text, ok = completed.stdout, completed.returncode == 0
        except subprocess.TimeoutExpired as error:
            output = error.stdout or ""
            text = (
                output.decode(errors="replace") if isinstance(output, bytes) else output
            )
            text += f"\n[gallery] timed out after {TIME_LIMIT_S} s\n"
            ok = False
        elapsed = time.perf_counter() - start
        leftovers = os.listdir(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
        if leftovers:
            text += (
                f"\n[gallery] left files behind in its working folder: {leftovers}\n"
            )
            ok = False
        if not ok:
            sys.stderr.write(f"--- {script.name} failed; its output:\n{text}\n")
        results.append((script.name, elapsed, ok))
        print(
            f"{'ok  ' if ok else 'FAIL'} {script.name:<36} {elapsed:6.1f} s", flush=True
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="example names (plot_x or plot_x.py)")
    args = parser.parse_args(argv)
    scripts = examples()
    if args.only:
        wanted = {name.removesuffix(".py") for name in args.only}
        scripts = [s for s in scripts if s.stem in wanted]
        missing = wanted - {s.stem for s in scripts}
        if missing:
            parser.error(f"no such example: {sorted(missing)}")
    results = run(scripts)
    total = sum(elapsed for _, elapsed, _ in results)
    failed = [name for name, _, ok in results if not ok]
    print(f"{len(results)} examples in {total:.1f} s; {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
