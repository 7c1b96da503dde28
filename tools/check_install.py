"""Confirm that the joblet packages a session imports came from this checkout.

Usage::

    python tools/check_install.py [--editable] DIST [DIST ...]

Fails unless exactly the named joblet distributions are installed, each at this
checkout's version, and each imports from the expected place: the checkout's
``packages/<dist>/src`` with ``--editable``, an installed wheel (outside the
checkout) otherwise. This catches a stale wheel, a copy from PyPI or a test run
that silently imports the source tree instead of the installed package.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from pathlib import Path

from check_layers import ROOT, shared_version


def main(argv: list[str]) -> int:
    editable = "--editable" in argv
    expected = {name for name in argv if not name.startswith("--")}
    version = shared_version()
    installed = {
        dist.metadata["Name"]: dist
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"].startswith("joblet")
    }
    problems = []
    if set(installed) != expected:
        problems.append(
            f"installed joblet distributions {sorted(installed)}, expected {sorted(expected)}"
        )
    for name in sorted(expected & set(installed)):
        dist = installed[name]
        if dist.version != version:
            problems.append(
                f"{name} {dist.version} is installed, the checkout is {version}"
            )
        import_name = name.replace("-", "_")
        module_file = Path(
            importlib.import_module(import_name).__file__ or ""
        ).resolve()
        source_folder = ROOT / "packages" / name / "src"
        from_checkout = source_folder in module_file.parents
        if editable and not from_checkout:
            problems.append(
                f"{import_name} imports from {module_file}, not {source_folder}"
            )
        if not editable and from_checkout:
            problems.append(
                f"{import_name} imports from the source tree ({module_file}), "
                "not from the installed wheel"
            )
    for problem in problems:
        print(f"check_install: {problem}", file=sys.stderr)
    if not problems:
        where = "editable checkout" if editable else "wheels"
        print(
            f"check_install: {', '.join(sorted(expected))} {version} from the {where}"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
