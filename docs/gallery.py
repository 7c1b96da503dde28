"""Run every example of the gallery and keep its output for the docs.

    python docs/gallery.py [--only NAME ...] [--output DIR]

Each ``docs/examples/plot_*.py`` runs in a fresh interpreter, in an empty
temporary working folder (dask's scratch space in another), with ``JOBLET_GALLERY_OUTPUT`` pointing at the output
folder (``docs/_build/gallery`` by default), where its combined stdout and
stderr are written as ``<name>.txt`` and its figures as PNG files. Every
example must succeed within its time limit; the exit status is non-zero
otherwise. ``nox -s docs`` runs this step before building the site, and
``docs/conf.py`` runs it for any example whose output is missing or older than
its script.
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

DOCS = Path(__file__).resolve().parent
EXAMPLES = DOCS / "examples"
DEFAULT_OUTPUT = DOCS / "_build" / "gallery"
TIME_LIMIT_S = 120


def examples() -> list[Path]:
    return sorted(EXAMPLES.glob("plot_*.py"))


def stale(output: Path = DEFAULT_OUTPUT) -> list[Path]:
    """Examples whose output file is missing or older than the script."""
    found = []
    for script in examples():
        text = output / f"{script.stem}.txt"
        if not text.exists() or text.stat().st_mtime < script.stat().st_mtime:
            found.append(script)
    return found


def run(
    scripts: list[Path], output: Path = DEFAULT_OUTPUT
) -> list[tuple[str, float, bool]]:
    """Run ``scripts``; write their outputs into ``output``; return the timings."""
    output.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, JOBLET_GALLERY_OUTPUT=str(output), PYTHONUNBUFFERED="1")
    results = []
    for script in scripts:
        workdir = tempfile.mkdtemp(prefix="joblet-gallery-")
        # dask's scratch space (default: <tmp>/dask-scratch-space) goes to a
        # folder of its own, removed with the working folder.
        scratch = tempfile.mkdtemp(prefix="joblet-gallery-dask-")
        env["DASK_TEMPORARY_DIRECTORY"] = scratch
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
            text = (
                (error.stdout or b"").decode(errors="replace")
                if isinstance(error.stdout, bytes)
                else (error.stdout or "")
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
        target = output / f"{script.stem}.txt"
        if ok:
            target.write_text(text.strip("\n") + "\n")
        else:
            target.unlink(missing_ok=True)
            sys.stderr.write(f"--- {script.name} failed; its output:\n{text}\n")
        results.append((script.name, elapsed, ok))
        print(
            f"{'ok  ' if ok else 'FAIL'} {script.name:<36} {elapsed:6.1f} s", flush=True
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="example names (plot_x or plot_x.py)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    scripts = examples()
    if args.only:
        wanted = {name.removesuffix(".py") for name in args.only}
        scripts = [s for s in scripts if s.stem in wanted]
        missing = wanted - {s.stem for s in scripts}
        if missing:
            parser.error(f"no such example: {sorted(missing)}")
    results = run(scripts, args.output)
    total = sum(elapsed for _, elapsed, _ in results)
    failed = [name for name, _, ok in results if not ok]
    print(f"{len(results)} examples in {total:.1f} s; {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
