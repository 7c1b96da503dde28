"""Run every ``tools/bench_*.py`` and collect one ratio table.

Usage: ``python tools/bench.py [--quick] [--only hash,persist] [--out bench-results]
[--docs]``

Each benchmark runs in its own interpreter (so imports and memory of one do not
disturb the next) and writes JSON rows; this script prints the combined markdown
table and writes ``<out>/bench.md`` and ``<out>/bench.json``. With ``--docs`` it
also writes ``docs/bench/latest.json`` (the rows with the date, the command, the
machine and its load average, checked in: the Performance page draws its charts
from it) and ``docs/bench/latest.inc``, the same table in reStructuredText.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Row, format_table, human, machine_description, ratio

TOOLS = Path(__file__).resolve().parent
DOCS_BENCH = TOOLS.parent / "docs" / "bench"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", help="comma-separated benchmark names (hash, persist, ...)"
    )
    parser.add_argument("--out", default="bench-results")
    parser.add_argument(
        "--docs",
        action="store_true",
        help="also write docs/bench/latest.json and latest.inc for the docs",
    )
    args = parser.parse_args()

    scripts = sorted(TOOLS.glob("bench_*.py"))
    if args.only:
        wanted = set(args.only.split(","))
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    rows: list[Row] = []
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as result:
            command = [sys.executable, str(script), "--json", result.name]
            if args.quick:
                command.append("--quick")
            if subprocess.call(command) != 0:
                failed.append(script.name)
                continue
            rows += [Row(**row) for row in json.loads(Path(result.name).read_text())]

    table = format_table(rows)
    header = f"Machine: {machine_description()}\n\n"
    print("\n" + header + table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.md").write_text(header + table + "\n")
    (out / "bench.json").write_text(
        json.dumps(
            {
                "machine": machine_description(),
                "rows": [{**row.__dict__, "speedup": row.speedup} for row in rows],
            },
            indent=2,
        )
    )
    if args.docs:
        write_docs(rows, quick=args.quick)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def write_docs(rows: list[Row], quick: bool) -> None:
    """``docs/bench/latest.json`` and ``latest.inc``: one run, when and where."""
    run = {
        "date": datetime.date.today().isoformat(),
        "command": "nox -s bench -- --docs" + (" --quick" if quick else ""),
        "machine": machine_description(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "rows": [{**row.__dict__, "speedup": row.speedup} for row in rows],
    }
    DOCS_BENCH.mkdir(parents=True, exist_ok=True)
    (DOCS_BENCH / "latest.json").write_text(json.dumps(run, indent=2) + "\n")
    (DOCS_BENCH / "latest.inc").write_text(rst_table(run))


def rst_table(run: dict[str, Any]) -> str:
    """A run as an rst list-table in human units, headed by where and when."""
    where = f"Measured on {run['date']} by ``{run['command']}``, on: {run['machine']}"
    if run.get("load_average"):
        load = ", ".join(f"{value:.1f}" for value in run["load_average"])
        where += f" (load average {load} at the end)"
    lines = [where + ".", ""]
    if run.get("note"):
        lines += [f"({run['note']}.)", ""]
    lines += [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - figure",
        "     - joblet",
        "     - reference",
        "     - reference value",
        "     - joblet advantage",
    ]
    for data in run["rows"]:
        row = Row(**{k: v for k, v in data.items() if k != "speedup"})
        lines += [
            f"   * - {row.figure}",
            f"     - {human(row.joblet, row.unit)}",
            f"     - {row.reference_name}",
            f"     - {human(row.reference, row.unit)}",
            f"     - {ratio(row.speedup)}",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
