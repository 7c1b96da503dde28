"""Check that every joblet distribution imports only what it declares.

Rules (see ARCHITECTURE.md):

* A module in ``packages/<dist>/src`` may import the standard library, its own
  package, the third-party packages its ``pyproject.toml`` declares (hard or
  optional dependencies) and the joblet distributions it declares.
* A test in ``tests/<import_name>/`` may import joblet packages only from its own
  distribution and the joblet distributions that one depends on (transitively).
* No module imports a private module or name of another joblet distribution,
  and no package has an import circle (counting imports inside functions):
  see ``tools/import_graph.py``.
* All six distributions share one version. Each has one home for it, the
  ``__version__`` string of its ``__init__.py``, which hatchling reads
  (``dynamic = ["version"]`` and ``[tool.hatch.version]``); those strings and every
  sibling pin (``joblet-hash==X.Y.Z``) agree.

Prints one line per problem (``file:line: message``) and exits 1 if there is any.
Standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_graph  # a sibling tool

ROOT = Path(__file__).resolve().parent.parent
# The standard library of the running Python, plus modules that newer Pythons
# added and that the packages import when present (``compression.zstd``: 3.14).
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__", "compression"}

# Distributions whose import names differ from their normalized names, and extras
# that bring further importable packages.
IMPORT_NAMES = {
    "backports-zstd": {"backports"},
}
EXTRA_IMPORT_NAMES = {
    ("dask", "distributed"): {"distributed"},
}

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[([^\]]*)\])?\s*(.*)$")
_VERSION_LINE = re.compile(r'^__version__\s*=\s*"([^"]+)"', re.MULTILINE)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Distribution:
    name: str
    version: str  # "" when __init__.py holds no __version__ literal
    folder: Path
    import_name: str
    # where hatchling reads the version, relative to ``folder`` (None: not dynamic)
    version_path: str | None = None
    # normalized dist name -> (extras, version specifier)
    requires: dict[str, tuple[set[str], str]] = field(default_factory=dict)

    def importable(self) -> set[str]:
        """Top-level import names this distribution declares."""
        names = set()
        for dist, (extras, _) in self.requires.items():
            names |= IMPORT_NAMES.get(dist, {dist.replace("-", "_")})
            for extra in extras:
                names |= EXTRA_IMPORT_NAMES.get((dist, extra), set())
        return names


def init_file(folder: Path, import_name: str) -> Path:
    return folder / "src" / import_name / "__init__.py"


def read_version(init: Path) -> str:
    """The ``__version__`` literal of an ``__init__.py``, "" if it has none."""
    match = _VERSION_LINE.search(init.read_text()) if init.exists() else None
    return match.group(1) if match else ""


def read_distributions() -> dict[str, Distribution]:
    # tomllib is 3.11+: imported here so that shared_version() (which
    # tools/check_install.py calls in a 3.10 session) does not need it.
    import tomllib

    dists = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text())
        project = data["project"]
        hatch = data["tool"]["hatch"]
        import_name = Path(hatch["build"]["targets"]["wheel"]["packages"][0]).name
        dynamic = "version" in project.get("dynamic", [])
        dist = Distribution(
            name=normalize(project["name"]),
            version=read_version(init_file(pyproject.parent, import_name)),
            folder=pyproject.parent,
            import_name=import_name,
            version_path=hatch.get("version", {}).get("path") if dynamic else None,
        )
        requirements = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            requirements += extra
        for requirement in requirements:
            match = _REQUIREMENT.match(requirement)
            if match is None:
                raise SystemExit(
                    f"{pyproject}: cannot parse requirement {requirement!r}"
                )
            extras = {e.strip() for e in (match.group(3) or "").split(",") if e.strip()}
            dist.requires[normalize(match.group(1))] = (extras, match.group(4).strip())
        dists[dist.name] = dist
    return dists


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) for every absolute import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def joblet_closure(dist: Distribution, dists: dict[str, Distribution]) -> set[str]:
    """Import names of ``dist`` and every joblet distribution below it."""
    seen, todo = set(), [dist.name]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [d for d in dists[name].requires if d in dists]
    return {dists[name].import_name for name in seen}


def check_sources(dists: dict[str, Distribution]) -> list[str]:
    problems = []
    joblet_imports = {d.import_name: d for d in dists.values()}
    for dist in dists.values():
        allowed = dist.importable() | {dist.import_name}
        for path in sorted((dist.folder / "src").rglob("*.py")):
            for line, module in imports_of(path):
                if module in STDLIB or module in allowed:
                    continue
                rel = path.relative_to(ROOT)
                if module in joblet_imports:
                    problems.append(
                        f"{rel}:{line}: imports {module!r} but {dist.name} does not "
                        f"depend on {joblet_imports[module].name}; a package imports "
                        "only the layers below it that it declares"
                    )
                else:
                    problems.append(
                        f"{rel}:{line}: imports {module!r}, which {dist.name} does not "
                        "declare; add it to [project] dependencies or an extra in "
                        f"{dist.folder.relative_to(ROOT)}/pyproject.toml"
                    )
    return problems


def check_tests(dists: dict[str, Distribution]) -> list[str]:
    problems = []
    joblet_imports = {d.import_name for d in dists.values()}
    for dist in dists.values():
        allowed = joblet_closure(dist, dists)
        for path in sorted((ROOT / "tests" / dist.import_name).rglob("*.py")):
            for line, module in imports_of(path):
                if module in joblet_imports and module not in allowed:
                    problems.append(
                        f"{path.relative_to(ROOT)}:{line}: imports {module!r}, which "
                        f"{dist.name} does not depend on; tests of a distribution "
                        "import only it and the layers it declares"
                    )
    return problems


def check_versions(dists: dict[str, Distribution]) -> list[str]:
    problems = []
    for dist in dists.values():
        init = init_file(dist.folder, dist.import_name)
        expected_path = init.relative_to(dist.folder).as_posix()
        pyproject = (dist.folder / "pyproject.toml").relative_to(ROOT)
        if dist.version_path != expected_path:
            problems.append(
                f"{pyproject}: the version must come from {expected_path} "
                f'(dynamic = ["version"] and [tool.hatch.version] path = '
                f'"{expected_path}"), found {dist.version_path!r}'
            )
        if not dist.version:
            problems.append(
                f'{init.relative_to(ROOT)}: no __version__ = "X.Y.Z" line; '
                "run tools/set_version.py"
            )
    versions = {d.version for d in dists.values() if d.version}
    if len(versions) > 1:
        listing = ", ".join(f"{d.name}={d.version}" for d in dists.values())
        problems.append(
            f"packages/*/src/*/__init__.py: versions differ ({listing}); "
            "run tools/set_version.py"
        )
    if len(versions) != 1:
        return problems
    (version,) = versions
    for dist in dists.values():
        pyproject = dist.folder.relative_to(ROOT) / "pyproject.toml"
        for name, (_, spec) in dist.requires.items():
            if name in dists and spec != f"=={version}":
                problems.append(
                    f"{pyproject}: {name} is pinned {spec!r}, expected '=={version}' "
                    "(siblings are pinned exactly; run tools/set_version.py)"
                )
    return problems


def shared_version() -> str:
    """The one version of all distributions (the layers check guarantees it)."""
    inits = ROOT.glob("packages/*/src/*/__init__.py")
    (version,) = {read_version(init) for init in inits}
    return version


def main() -> int:
    dists = read_distributions()
    if not dists:
        print("no distributions found under packages/", file=sys.stderr)
        return 1
    problems = check_sources(dists) + check_tests(dists) + check_versions(dists)
    # Distributions meet at public names; no import circles (tools/import_graph.py).
    modules = import_graph.module_files(ROOT)
    problems += import_graph.private_imports(modules)
    problems += import_graph.circle_problems(modules)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} layering problem(s)", file=sys.stderr)
        return 1
    print(
        f"layers ok: {len(dists)} distributions, version {next(iter(dists.values())).version}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
