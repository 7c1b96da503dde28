"""Set the one shared version of all joblet distributions.

Usage: ``python tools/set_version.py 0.2.0``

Rewrites every ``__version__`` string (each distribution's one version source:
hatchling reads it at build time) and every exact pin between siblings in
``packages/*/pyproject.toml`` (``joblet-hash==0.2.0``), then runs the layers check
so a partial rewrite cannot go unnoticed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_VERSION = re.compile(r"^\d+\.\d+\.\d+([ab]|rc)?\d*(\.dev\d+)?$")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not _VERSION.match(argv[0]):
        print("usage: python tools/set_version.py X.Y.Z", file=sys.stderr)
        return 2
    version = argv[0]
    for pyproject in ROOT.glob("packages/*/pyproject.toml"):
        text = pyproject.read_text()
        text = re.sub(
            r'"(joblet(-[a-z]+)?(\[[^\]]*\])?)==[^"]*"', rf'"\1=={version}"', text
        )
        pyproject.write_text(text)
    for init in ROOT.glob("packages/*/src/*/__init__.py"):
        text = init.read_text()
        init.write_text(
            re.sub(r'(?m)^__version__ = "[^"]*"', f'__version__ = "{version}"', text)
        )
    return subprocess.call([sys.executable, str(ROOT / "tools" / "check_layers.py")])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
