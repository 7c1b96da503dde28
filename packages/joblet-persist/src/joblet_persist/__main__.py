"""Command line: ``python -m joblet_persist inspect FILE [FILE ...]``."""

from __future__ import annotations

import argparse
import sys

from ._errors import FormatError
from ._inspect import inspect_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m joblet_persist",
        description="Tools for files written by joblet_persist.dump (or joblib, pickle).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser(
        "inspect",
        help="print format, compression, sizes, arrays and globals without loading",
    )
    inspect.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args(argv)
    status = 0
    for index, path in enumerate(args.files):
        if index:
            print()
        try:
            print(inspect_file(path))
        except (OSError, FormatError, ValueError) as exc:
            print(f"{path}: error: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
