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


def _listing(folder: Path) -> set[str]:
    names = os.listdir(folder) if folder.is_dir() else []
    return {name for name in names if not name.startswith(_REMOVED_AT_EXIT)}


class LeftoverCheck:
    """A sphinx-gallery ``reset_modules`` hook: an example leaves nothing behind.

    Called before and after each example; after it, any new entry in the temp
    dir or in the examples folder (sphinx-gallery's working directory) is an
    error naming the example and the files.
    """

    def __init__(self) -> None:
        self._before: dict[Path, set[str]] = {}

    def __repr__(self) -> str:  # stable, so Sphinx does not rebuild everything
        return "LeftoverCheck()"

    def __call__(self, gallery_conf: dict[str, Any], fname: str, when: str) -> None:
        folders = [Path(tempfile.gettempdir()), EXAMPLES]
        if when == "before":
            self._before = {folder: _listing(folder) for folder in folders}
            return
        left = {
            str(folder): sorted(_listing(folder) - self._before.get(folder, set()))
            for folder in folders
        }
        left = {folder: names for folder, names in left.items() if names}
        if left:
            raise RuntimeError(f"example {fname} left files behind: {left}")


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
