"""Run every ``tools/bench_*.py`` and collect one ratio table.

Usage: ``python tools/bench.py [--quick] [--only hash,persist] [--out bench-results]
[--docs docs/bench_latest.inc]``

Each benchmark runs in its own interpreter (so imports and memory of one do not
disturb the next) and writes JSON rows; this script prints the combined markdown
table and writes ``<out>/bench.md`` and ``<out>/bench.json``. With ``--docs`` it
also writes the table as reStructuredText for the documentation's Performance
page, with the machine and the date it came from.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Row, format_table, machine_description

TOOLS = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", help="comma-separated benchmark names (hash, persist, ...)"
    )
    parser.add_argument("--out", default="bench-results")
    parser.add_argument("--docs", help="also write the table as an rst fragment here")
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
        Path(args.docs).write_text(rst_table(rows, quick=args.quick))
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def rst_table(rows: list[Row], quick: bool) -> str:
    """The rows as an rst list-table, headed by where and when they were measured."""
    today = datetime.date.today().isoformat()
    command = "nox -s bench -- --quick" if quick else "nox -s bench"
    lines = [
        f"Measured on {today} by ``{command}``, on: {machine_description()}.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - figure",
        "     - joblet",
        "     - anchor",
        "     - anchor value",
        "     - joblet advantage",
    ]
    for row in rows:
        lines += [
            f"   * - {row.figure}",
            f"     - {row.joblet:.4g} {row.unit}",
            f"     - {row.anchor_name}",
            f"     - {row.anchor:.4g} {row.unit}",
            f"     - {row.speedup:.2f}x",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
