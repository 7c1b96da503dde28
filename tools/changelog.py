"""Assemble the changelog from the fragments in ``changes/``.

Usage::

    python tools/changelog.py draft            # print the unreleased section
    python tools/changelog.py release X.Y.Z    # prepend it to CHANGELOG.rst, delete the fragments

A fragment is ``changes/<name>.<kind>.rst`` (see ``changes/README.md``). The
documentation's Changelog page calls :func:`unreleased` to show the fragments
not yet released. Standard library only.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHANGES = ROOT / "changes"
CHANGELOG = ROOT / "CHANGELOG.rst"
# Kinds in the order a section lists them, with their headings.
KINDS = {
    "feature": "Features",
    "fix": "Bug fixes",
    "change": "Changed behaviour",
    "performance": "Performance",
    "removal": "Removals",
    "docs": "Documentation",
}


def fragments() -> dict[str, list[str]]:
    """Fragment texts by kind; a fragment of an unknown kind is an error."""
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for path in sorted(CHANGES.glob("*.rst")):
        kind = path.stem.rsplit(".", 1)[-1]
        if kind not in KINDS:
            raise SystemExit(
                f"{path.relative_to(ROOT)}: unknown kind {kind!r}; name it "
                f"<name>.<kind>.rst with kind one of {', '.join(KINDS)}"
            )
        found[kind].append(path.read_text().strip())
    return found


def section(title: str) -> str:
    """The fragments as one rst section headed ``title``; "" when there is none."""
    lines = [title, "-" * len(title), ""]
    empty = True
    for kind, texts in fragments().items():
        if not texts:
            continue
        empty = False
        lines += [KINDS[kind], "~" * len(KINDS[kind]), ""]
        for text in texts:
            body = text.replace("\n", "\n  ")
            lines += [f"* {body}", ""]
    return "" if empty else "\n".join(lines)


def unreleased() -> str:
    return section("Unreleased") or "Unreleased\n----------\n\nNo changes yet.\n"


def release(version: str) -> None:
    today = datetime.date.today().isoformat()
    text = section(f"{version} ({today})")
    if not text:
        raise SystemExit("no fragments in changes/: nothing to release")
    CHANGELOG.write_text(text + "\n" + CHANGELOG.read_text())
    for path in CHANGES.glob("*.rst"):
        path.unlink()
    print(f"CHANGELOG.rst: added {version}; fragments removed")


def main(argv: list[str]) -> int:
    if argv == ["draft"]:
        print(unreleased())
        return 0
    if len(argv) == 2 and argv[0] == "release":
        release(argv[1])
        return 0
    print(__doc__.split("Usage::")[1].split("A fragment")[0], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
