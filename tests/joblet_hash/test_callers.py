"""joblet_hash.callers: a warning points at the first frame outside the package."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from joblet_hash.callers import find_stack_level, package_folder, warn_at_caller


def _write_package(root: Path) -> None:
    """A package whose warnings are raised two and three frames deep."""
    package = root / "warner"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            import warnings
            from joblet_hash.callers import find_stack_level, package_folder, warn_at_caller
            from .sub.deep import deeper
            FOLDER = package_folder(__file__)

            def outer():
                deeper(FOLDER)

            def direct():
                warnings.warn("direct", UserWarning, stacklevel=find_stack_level(FOLDER))

            def calls_back(callback):
                return callback()
            """
        )
    )
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "deep.py").write_text(
        textwrap.dedent(
            """
            from joblet_hash.callers import warn_at_caller

            def deeper(folder):
                warn_at_caller("from a subfolder", UserWarning, folder)
            """
        )
    )


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("warner.outer()", "from a subfolder"),
        ("warner.direct()", "direct"),
        # the user's callback warns: the first frame outside is the callback's
        ("warner.calls_back(lambda: warner.outer())", "from a subfolder"),
    ],
)
def test_warning_points_at_the_user_line(
    tmp_path: Path, call: str, expected: str
) -> None:
    _write_package(tmp_path)
    script = tmp_path / "user_script.py"
    script.write_text(
        "import warnings, warner\nwarnings.simplefilter('always')\n"
        + call
        + "  # line 3\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"user_script.py:3: UserWarning: {expected}" in done.stderr, done.stderr


def test_level_one_when_the_caller_is_outside() -> None:
    # this test file is not inside the folder: its own frame is the answer
    assert find_stack_level(package_folder(__file__) + "-elsewhere") == 1


def test_warn_at_caller_from_outside_points_here() -> None:
    with pytest.warns(UserWarning, match="here") as record:
        warn_at_caller("here", UserWarning, "/nonexistent-package-folder")
    assert record[0].filename == __file__


def test_package_folder_is_the_module_folder() -> None:
    assert package_folder("/a/b/c.py") == "/a/b"
