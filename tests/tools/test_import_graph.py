"""tools/import_graph.py: private imports across distributions and import circles."""

from __future__ import annotations

from pathlib import Path

from joblet_test_helpers import load_helper

import_graph = load_helper(Path(__file__).parents[2] / "tools" / "import_graph.py")


def write_tree(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = root / "packages" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph.module_files(root)


def test_the_repository_has_no_problem():
    modules = import_graph.module_files()
    assert modules
    assert import_graph.private_imports(modules) == []
    assert import_graph.circle_problems(modules) == []


def test_a_circle_through_a_function_level_import_is_found(tmp_path):
    modules = write_tree(
        tmp_path,
        {
            "joblet-x/src/joblet_x/__init__.py": "",
            "joblet-x/src/joblet_x/_a.py": "from ._b import thing\n",
            "joblet-x/src/joblet_x/_b.py": (
                "def thing():\n    from ._a import other\n    return other\n"
            ),
            "joblet-x/src/joblet_x/_c.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from ._a import thing\n"
            ),
        },
    )
    [problem] = import_graph.circle_problems(modules)
    assert "joblet_x._a, joblet_x._b" in problem
    assert "_c" not in problem  # imports that never run are not edges


def test_a_private_import_of_another_distribution_is_found(tmp_path):
    modules = write_tree(
        tmp_path,
        {
            "joblet-persist/src/joblet_persist/__init__.py": "",
            "joblet-memory/src/joblet_memory/__init__.py": "",
            "joblet-memory/src/joblet_memory/_sign.py": (
                "from joblet_persist._format import HEADER\n"
                "from joblet_persist import _private_name, public\n"
                "from ._own import fine\n"
            ),
        },
    )
    problems = import_graph.private_imports(modules)
    assert len(problems) == 2
    assert "joblet_persist._format" in problems[0]
    assert "_private_name" in problems[1]
