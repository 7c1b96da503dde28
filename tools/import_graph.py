"""The import graph of the packages: private imports across distributions, circles.

Two rules of ARCHITECTURE.md that the layer check alone does not see:

* **Distributions meet at public names.** A module of one joblet distribution
  never imports a private module or name (``joblet_persist._format``,
  ``from joblet_parallel import _x``) of another.
* **No import circles** inside a package, counting imports made inside
  functions (a circle hidden that way still runs at run time). Imports under
  ``if TYPE_CHECKING:`` are left out: they never run.

``python tools/import_graph.py`` prints one line per problem and exits 1 if
there is any; ``tools/check_layers.py`` runs both checks too. Standard library
only.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBLET_PACKAGES = frozenset(
    {
        "joblet",
        "joblet_hash",
        "joblet_persist",
        "joblet_memory",
        "joblet_parallel",
        "joblet_dask",
    }
)


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to an absolute module name."""

    source: str  # the importing module
    target: str  # the module imported from
    names: tuple[str, ...]  # the names taken from it ("" for ``import x``)
    line: int
    path: Path


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of every package: ``{'joblet_memory._stores._base': path}``."""
    found: dict[str, Path] = {}
    for src in sorted(root.glob("packages/*/src")):
        for path in sorted(src.rglob("*.py")):
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run (``TYPE_CHECKING`` blocks skipped)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_in(module: str, path: Path) -> list[Import]:
    """The imports of ``module`` (its file at ``path``), resolved."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found = []
    statements = _statements(ast.parse(path.read_text(), str(path)))
    for node in sorted(statements, key=lambda statement: statement.lineno):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module, alias.name, ("",), node.lineno, path))
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        names = tuple(alias.name for alias in node.names)
        found.append(Import(module, base, names, node.lineno, path))
    return found


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(modules: dict[str, Path]) -> list[str]:
    """Imports of another joblet distribution's private modules or names."""
    problems = []
    for module, path in modules.items():
        own = module.split(".")[0]
        for found in imports_in(module, path):
            top = found.target.split(".")[0]
            if top not in JOBLET_PACKAGES or top == own:
                continue
            private = [p for p in found.target.split(".")[1:] if _is_private(p)]
            private += [n for n in found.names if n and _is_private(n)]
            if private:
                where = f"{_shown(path)}:{found.line}"
                problems.append(
                    f"{where}: imports {found.target}"
                    f"{' (' + ', '.join(found.names) + ')' if found.names[0] else ''}, "
                    f"private to another distribution ({', '.join(private)}); "
                    "use or add a public name there"
                )
    return problems


def graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Edges between modules of one package (a ``from . import x`` of a module
    counts as an edge to that module; of a name, to the package)."""
    edges: dict[str, set[str]] = {module: set() for module in modules}
    for module, path in modules.items():
        own = module.split(".")[0]
        for found in imports_in(module, path):
            if found.target.split(".")[0] != own:
                continue
            targets = []
            for name in found.names:
                submodule = f"{found.target}.{name}" if name else ""
                targets.append(submodule if submodule in modules else found.target)
            for target in targets:
                # ``import pkg.sub`` runs pkg's __init__ first, then pkg.sub
                if target in modules and target != module:
                    edges[module].add(target)
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(groups)


def circle_problems(modules: dict[str, Path]) -> list[str]:
    edges = graph(modules)
    problems = []
    for group in circles(edges):
        members = set(group)
        links = [
            f"{source} -> {target}"
            for source in group
            for target in sorted(edges[source] & members)
        ]
        problems.append(
            f"import circle among {', '.join(group)}: {'; '.join(links)} "
            "(move what both need into a module below them)"
        )
    return problems


def main() -> int:
    modules = module_files()
    problems = private_imports(modules) + circle_problems(modules)
    for problem in problems:
        print(problem)
    print(
        f"import graph: {len(modules)} modules, {len(problems)} problem(s)",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
