"""The main job: a tour of joblet, each step next to joblib 1.6 (``nox -s demo``).

Each step does one thing through the ``joblet`` meta-package, the way a user
would, and the same thing with joblib 1.6 (or pickle / numpy where that is the
reference). Contenders are timed alternately in the same run, the median kept,
and every line prints both figures and the ratio (> 1: joblet is better). The
parallel step also reports the CPU time the workers got and the load average,
and says when the machine was too busy for its speed-up to mean much. The
persistence step uses the data and the method of the README's benchmark
(``tools/bench_persist.py``) and prints the README's ratio beside each figure
the two share. Then every example of the documentation's gallery
(``docs/examples/plot_*.py``) runs end to end, and a report sums it up.

Everything happens in a temporary folder (caches, files), with local worker
processes and a dask ``LocalCluster``; the folder is removed and the cluster
closed at the end, so nothing is left behind.

    python tools/demo.py [--skip-examples]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import psutil

import joblet

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_persist
from benchlib import Row, alternate, human, ratio

ROOT = Path(__file__).resolve().parent.parent
LATEST_BENCH = ROOT / "docs" / "bench" / "latest.json"
MB = 1024 * 1024
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def summarize(data: np.ndarray, scale: float = 1.0) -> dict[str, float]:
    """A costly step: half a second of 'work', then a few statistics."""
    time.sleep(0.5)
    return {"mean": float(data.mean()) * scale, "std": float(data.std()) * scale}


def cpu_work(n: int) -> int:
    """Pure-Python CPU-bound work (holds the GIL): about 0.1 s per million."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def sleepy(i: int) -> int:
    time.sleep(0.1)
    return i


def _timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


class Demo:
    """The tour: one method per step, each adding its rows to the report."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rows: list[tuple[str, Row]] = []
        self.notes: list[str] = []

    # -- output ------------------------------------------------------------------

    @staticmethod
    def section(title: str) -> None:
        print(f"\n== {title}", flush=True)

    def compare(self, step: str, row: Row) -> None:
        """Print one figure next to its reference, and keep it for the report."""
        self.rows.append((step, row))
        print(
            f"{row.figure}: joblet {human(row.joblet, row.unit)}, "
            f"{row.reference_name} {human(row.reference, row.unit)} "
            f"-> {ratio(row.speedup)}",
            flush=True,
        )

    # -- steps -------------------------------------------------------------------

    def hashing(self) -> None:
        self.section("hashing: joblet.hash vs joblib.hash")
        array = np.random.default_rng(0).random(100 * MB // 8)
        assert joblet.hash(array, hash_name="md5") == joblet.hash(
            array.copy(), hash_name="md5"
        )
        times = alternate(
            {
                "xxh3_128": lambda: joblet.hash(array, hash_name="xxh3_128"),
                "md5": lambda: joblet.hash(array, hash_name="md5"),
                "joblib": lambda: joblib.hash(array),
            },
            repeat=3,
        )
        gigabytes = array.nbytes / 1e9
        for name in ("xxh3_128", "md5"):
            self.compare(
                "hashing",
                Row(
                    f"hash a 100 MB float64 array ({name})",
                    gigabytes / times[name],
                    "joblib md5",
                    gigabytes / times["joblib"],
                    "GB/s",
                    higher_is_better=True,
                ),
            )
        config = {"model": "ridge", "alphas": [0.1, 1.0], "features": {"a", "b"}}
        same = {"features": {"b", "a"}, "alphas": [0.1, 1.0], "model": "ridge"}
        assert joblet.hash(config) == joblet.hash(same)
        print(f"a nested dict and the same in another order: {joblet.hash(config)}")
        records = [(i, f"row-{i}", i * 0.5) for i in range(200_000)]
        times = alternate(
            {
                "joblet": lambda: joblet.hash(records),
                "joblib": lambda: joblib.hash(records),
            },
            repeat=3,
        )
        self.compare(
            "hashing",
            Row(
                "hash 200,000 small tuples",
                times["joblet"],
                "joblib",
                times["joblib"],
                "s",
            ),
        )

    def memory(self) -> None:
        self.section("caching: joblet.Memory vs joblib.Memory")
        data = np.random.default_rng(1).random(100 * MB // 8)
        small = np.arange(10.0)
        cached = {
            "joblet": joblet.Memory(self.folder / "joblet-cache", verbose=0).cache(
                summarize
            ),
            "joblib": joblib.Memory(self.folder / "joblib-cache", verbose=0).cache(
                summarize
            ),
        }
        first = {}
        for name, func in cached.items():
            first[name] = _timed(lambda func=func: func(data))
            func(small)
        print(
            f"first call (0.5 s of work + statistics of a 100 MB argument): joblet "
            f"{human(first['joblet'], 's')}, joblib {human(first['joblib'], 's')}"
        )
        assert cached["joblet"](data, 1.0) == cached["joblib"](data)
        times = alternate(
            {
                name: (lambda func=func: func(data, 1.0))
                for name, func in cached.items()
            },
            repeat=3,
        )
        self.compare(
            "caching",
            Row(
                "cache hit, 100 MB array argument",
                times["joblet"],
                "joblib.Memory",
                times["joblib"],
                "s",
            ),
        )
        hits = alternate(
            {name: (lambda func=func: func(small)) for name, func in cached.items()},
            repeat=200,
        )
        self.compare(
            "caching",
            Row(
                "cache hit, small argument (median of 200)",
                hits["joblet"],
                "joblib.Memory",
                hits["joblib"],
                "s",
            ),
        )

    def persistence(self) -> None:
        self.section("persistence: joblet.dump/load vs joblib.dump/load and pickle")
        # The data and the method of the README's figures (tools/bench_persist.py),
        # so that the ratios can be set side by side.
        sizes = bench_persist._sizes(quick=False)
        data, nbytes, label = bench_persist._mixed_data(sizes)
        print(
            f"the data of the README's benchmark (tools/bench_persist.py), {label}: "
            f"{data['floats'].nbytes / 1e6:.0f} MB of normal floats rounded to 3 "
            f"decimals, {data['labels'].nbytes / 1e6:.0f} MB of int64 labels in "
            f"0-11, {len(data['records']):,} small dicts; as there, each dump "
            "starts from a removed file and a synced disk, and the order of the "
            "contenders alternates",
            flush=True,
        )
        files = {
            name: str(self.folder / f"mix.{name}")
            for name in ("joblet", "joblib", "pickle")
        }

        def pickle_dump() -> None:
            with open(files["pickle"], "wb") as handle:
                pickle.dump(data, handle, protocol=5)

        def pickle_load() -> object:
            with open(files["pickle"], "rb") as handle:
                return pickle.load(handle)

        dumps = bench_persist.alternate(
            {
                "joblet": lambda: joblet.dump(data, files["joblet"]),
                "joblib": lambda: joblib.dump(data, files["joblib"]),
                "pickle": pickle_dump,
            },
            sizes["repeat"],
            bench_persist.before_dump(files, nbytes),
        )
        loads = bench_persist.alternate(
            {
                "joblet": lambda: joblet.load(files["joblet"]),
                "joblib": lambda: joblib.load(files["joblib"]),
                "pickle": pickle_load,
            },
            sizes["repeat"],
            lambda name: bench_persist.touch(nbytes),
        )
        assert np.array_equal(joblet.load(files["joblet"])["labels"], data["labels"])
        for kind, times in (("dump", dumps), ("load", loads)):
            for reference, name in (("joblib 1.6", "joblib"), ("pickle 5", "pickle")):
                self.compare(
                    "persistence",
                    Row(
                        f"{kind} {label}, no compression",
                        times["joblet"],
                        reference,
                        times[name],
                        "s",
                    ),
                )
        for path in files.values():
            os.unlink(path)
        # lz4 and zlib-3: the very rows of the README's table, measured here
        # (bench_persist calls joblet_persist.dump/load, which joblet re-exports).
        print("lz4 and zlib-3, 3 rounds each (about a minute) ...", flush=True)
        load_before = os.getloadavg()[0]
        readme = _readme_figures()
        shown = 0
        for row in bench_persist._mixed_section(
            sizes, lambda name: str(self.folder / name), sizes["repeat"]
        ):
            self.compare("persistence", row)
            if (row.figure, row.reference_name) in readme:
                said = ratio(readme[row.figure, row.reference_name])
                print(f"  the README (same data and method) says {said}")
                shown += 1
        load_after = os.getloadavg()[0]
        print(
            f"  load average (1 min) {load_before:.1f} before, {load_after:.1f} after, "
            f"on {CPUS} CPUs"
        )
        if shown:
            note = (
                "persistence: the README's lz4 and zlib-3 figures come from the same "
                f"data and method, run on {readme['date']} "
                f"(docs/bench/latest.json: {readme['note']}); this run had a load "
                f"average of {load_before:.1f}-{load_after:.1f} on {CPUS} CPUs. "
                "joblet compresses and decompresses on threads across the CPUs, "
                "joblib on one, so joblet's ratios fall when other programs hold "
                "the CPUs; the shared disk and page cache move both contenders' "
                "times from run to run"
            )
            self.notes.append(note)
            print(f"  note: {note}")
        floats = data["floats"]
        array_file = self.folder / "floats.joblet"
        joblet.dump(floats, array_file)  # the array alone, as numpy.save
        np.save(self.folder / "floats.npy", floats)
        maps = alternate(
            {
                "joblet": lambda: joblet.load(array_file, mmap_mode="r"),
                "numpy": lambda: np.load(self.folder / "floats.npy", mmap_mode="r"),
            },
            repeat=5,
        )
        self.compare(
            "persistence",
            Row(
                f"load(mmap_mode='r') of the {floats.nbytes / 1e6:.0f} MB float array",
                maps["joblet"],
                "numpy.load mmap",
                maps["numpy"],
                "s",
            ),
        )

    def parallel(self) -> None:
        self.section("parallel loops: joblet.Parallel vs joblib.Parallel (processes)")
        n_tasks, size = 8, 4_000_000  # about 0.3 s of CPU per task
        expected = [cpu_work(size)] * n_tasks
        load_before = os.getloadavg()[0]
        with (
            joblet.Parallel(n_jobs=2) as ours,
            joblib.Parallel(n_jobs=2) as theirs,
        ):
            ours(joblet.delayed(cpu_work)(10) for _ in range(2))  # start the workers
            theirs(joblib.delayed(cpu_work)(10) for _ in range(2))
            contenders = {
                "sequential": lambda: [cpu_work(size) for _ in range(n_tasks)],
                "joblet": lambda: ours(
                    joblet.delayed(cpu_work)(size) for _ in range(n_tasks)
                ),
                "joblib": lambda: theirs(
                    joblib.delayed(cpu_work)(size) for _ in range(n_tasks)
                ),
            }
            wall, cpu = _wall_and_cpu(contenders, expected, repeat=2)
        load_after = os.getloadavg()[0]
        print(
            f"{n_tasks} CPU-bound tasks of ~{cpu['sequential'] / n_tasks:.2f} s CPU: "
            f"sequential {human(wall['sequential'], 's')} wall, "
            f"{human(cpu['sequential'], 's')} CPU"
        )
        for name in ("joblet", "joblib"):
            print(
                f"  {name} n_jobs=2: wall {human(wall[name], 's')}, CPU "
                f"{human(cpu[name], 's')} ({cpu[name] / wall[name]:.2f} CPUs busy), "
                f"speed-up {wall['sequential'] / wall[name]:.2f}x"
            )
        self.compare(
            "parallel",
            Row(
                f"{n_tasks} CPU-bound tasks on 2 processes, wall time",
                wall["joblet"],
                "joblib (loky)",
                wall["joblib"],
                "s",
            ),
        )
        print(
            f"  load average (1 min) {load_before:.1f} before, {load_after:.1f} after, "
            f"on {CPUS} CPUs"
        )
        # The workers' CPU time over the wall time says how many CPUs they really
        # got: below 1.6 of the 2 they asked for, other programs took the rest.
        got = cpu["joblet"] / wall["joblet"]
        if got < 1.6:
            note = (
                f"the machine was too busy for the parallel speed-up to mean much: "
                f"the workers got {got:.2f} CPUs of the 2 they asked for (load "
                f"average {load_after:.1f} on {CPUS} CPUs)"
            )
            self.notes.append(note)
            print(f"  note: {note}")
        else:
            print(f"  the workers got {got:.2f} of 2 CPUs: the speed-up is meaningful")

    def dask(self) -> None:
        self.section("dask backend: joblet-dask vs joblib's dask backend")
        import dask
        from dask.distributed import Client, LocalCluster

        dask.config.set(temporary_directory=str(self.folder / "dask-scratch"))
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            Client(cluster),
        ):

            def with_joblet() -> None:
                with joblet.parallel_config("dask"):
                    assert joblet.Parallel()(
                        joblet.delayed(sleepy)(i) for i in range(20)
                    ) == list(range(20))

            def with_joblib() -> None:
                with joblib.parallel_config("dask"):
                    assert joblib.Parallel()(
                        joblib.delayed(sleepy)(i) for i in range(20)
                    ) == list(range(20))

            times = alternate({"joblet": with_joblet, "joblib": with_joblib}, repeat=3)
        self.compare(
            "dask",
            Row(
                "20 tasks x 0.1 s on 2 dask workers (ideal 1.0 s)",
                times["joblet"],
                "joblib dask backend",
                times["joblib"],
                "s",
            ),
        )

    def examples(self) -> bool:
        self.section("the documentation's examples (docs/examples/plot_*.py)")
        spec = importlib.util.spec_from_file_location(
            "gallery", ROOT / "docs" / "gallery.py"
        )
        assert spec is not None
        assert spec.loader is not None
        gallery = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(gallery)
        results = gallery.run(gallery.examples())
        failed = [name for name, _, ok in results if not ok]
        total = sum(elapsed for _, elapsed, _ in results)
        self.notes.append(
            f"gallery examples: {len(results) - len(failed)}/{len(results)} ran end "
            f"to end in {human(total, 's')}"
            + (f"; failed: {', '.join(failed)}" if failed else "")
        )
        return not failed

    # -- report ------------------------------------------------------------------

    def report(self, left_behind: bool, elapsed: float) -> None:
        self.section("report (ratio > 1: joblet is better)")
        width = max(len(row.figure) for _, row in self.rows)
        for step, row in self.rows:
            print(
                f"{step:<12} {row.figure:<{width}}  {human(row.joblet, row.unit):>12}"
                f"  vs {row.reference_name:<20} {human(row.reference, row.unit):>12}"
                f"  {ratio(row.speedup):>7}"
            )
        for note in self.notes:
            print(f"note: {note}")
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        # Only the demo's own folder: `nox -s demo` then checks what all the
        # demo's processes left in /tmp and /dev/shm, and says so.
        print(
            "the demo's temporary folder: "
            f"{'LEFT BEHIND' if left_behind else 'removed'}"
        )
        print(f"load average (1, 5, 15 min): {load}, on {CPUS} CPUs")
        print(f"\ndemo finished in {human(elapsed, 's')}")


def _wall_and_cpu(
    contenders: dict[str, Callable[[], object]], expected: object, repeat: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and CPU seconds (this process + its workers), alternated."""
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            cpu_before = time.process_time() + _children_cpu()
            start = time.perf_counter()
            result = run()
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(time.process_time() + _children_cpu() - cpu_before)
            assert result == expected
    return (
        {name: statistics.median(values) for name, values in walls.items()},
        {name: statistics.median(values) for name, values in cpus.items()},
    )


def _readme_figures() -> dict[Any, Any]:
    """The ratios behind the README's table, by (figure, reference), and its date."""
    try:
        run = json.loads(LATEST_BENCH.read_text())
    except (OSError, ValueError):
        return {}
    figures: dict[Any, Any] = {
        (row["figure"], row["reference_name"]): row["speedup"] for row in run["rows"]
    }
    figures["date"] = run["date"]
    figures["note"] = run.get("note", "no note on the machine's load")
    return figures


def _children_cpu() -> float:
    """User + system CPU seconds of this process's live child processes."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description="A tour of joblet next to joblib 1.6.")
    parser.add_argument("--skip-examples", action="store_true", help="skip the gallery")
    args = parser.parse_args()

    print(
        f"joblet {joblet.__version__} vs joblib {joblib.__version__}, numpy "
        f"{np.__version__}, Python {sys.version.split()[0]}, {CPUS} CPUs"
    )
    start = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="joblet-demo-"))
    demo = Demo(folder)
    ok = True
    try:
        demo.hashing()
        demo.memory()
        demo.persistence()
        demo.parallel()
        demo.dask()
        if not args.skip_examples:
            ok = demo.examples()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    left = folder.exists()
    demo.report(left, time.perf_counter() - start)
    return 0 if ok and not left else 1


if __name__ == "__main__":
    raise SystemExit(main())
