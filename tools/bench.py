"""Run every ``tools/bench_*.py`` and collect one ratio table.

Usage: ``python tools/bench.py [--quick] [--only hash,persist] [--out bench-results]``

Each benchmark runs in its own interpreter (so imports and memory of one do not
disturb the next) and writes JSON rows; this script prints the combined markdown
table and writes ``<out>/bench.md`` and ``<out>/bench.json``.
"""

from __future__ import annotations

import argparse
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
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
