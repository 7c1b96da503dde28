"""The main job: a short tour of joblet with timings (``nox -s demo``).

Each section exercises one distribution through the ``joblet`` meta-package, the
way a user would, and prints what it did and how fast; then every example of the
documentation's gallery (``docs/examples/plot_*.py``) runs end to end. The last
lines are a short report.

Everything happens in a temporary folder (the cache, files, the gallery's
outputs and plots), with local worker processes and a dask ``LocalCluster``; the
folder is removed and the cluster closed at the end, so nothing is left behind.

    python tools/demo.py [--skip-examples]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import joblet

ROOT = Path(__file__).resolve().parent.parent
REPORT: list[tuple[str, str]] = []


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def report(figure: str, value: str) -> None:
    REPORT.append((figure, value))


def demo_hashing() -> None:
    section("hashing (joblet.hash)")
    array = np.random.default_rng(0).random(200 * 1024 * 1024 // 8)  # 200 MB
    for hash_name in ("xxh3_128", "md5"):
        start = time.perf_counter()
        digest = joblet.hash(array, hash_name=hash_name)
        elapsed = time.perf_counter() - start
        speed = array.nbytes / elapsed / 1e9
        print(f"200 MB float64 array, {hash_name:>8}: {digest}  ({speed:.1f} GB/s)")
        report(f"hash 200 MB array, {hash_name}", f"{speed:.1f} GB/s")

    config = {
        "model": "ridge",
        "alphas": [0.1, 1.0, 10.0],
        "features": {"age", "income"},
    }
    same_config = {
        "features": {"income", "age"},
        "alphas": [0.1, 1.0, 10.0],
        "model": "ridge",
    }
    print(f"nested object: {joblet.hash(config)}")
    print(f"same content, other order: {joblet.hash(same_config)}")
    assert joblet.hash(config) == joblet.hash(same_config)

    records = [(i, f"row-{i}", i * 0.5) for i in range(1_000_000)]
    start = time.perf_counter()
    digest = joblet.hash(records)
    print(f"1,000,000 small tuples: {digest}  ({time.perf_counter() - start:.2f} s)")


def summarize(data: np.ndarray, scale: float = 1.0) -> dict[str, float]:
    """A costly step: a second of 'work', then a few statistics."""
    time.sleep(1.0)
    return {"mean": float(data.mean()) * scale, "std": float(data.std()) * scale}


def transform(data: np.ndarray) -> np.ndarray:
    return np.sqrt(data)


def demo_memory(folder: Path) -> None:
    section("caching (joblet.Memory)")
    memory = joblet.Memory(folder / "cache", verbose=0)
    cached_summarize = memory.cache(summarize)
    data = np.random.default_rng(1).random(200 * 1024 * 1024 // 8)  # 200 MB

    start = time.perf_counter()
    first = cached_summarize(data)
    miss = time.perf_counter() - start
    start = time.perf_counter()
    again = cached_summarize(data, 1.0)  # the same call once bound: a hit
    hit = time.perf_counter() - start
    assert first == again
    print(f"first call (1 s sleep + statistics of the 200 MB argument): {miss:.3f} s")
    print(
        f"same call again, a cache hit (hashes the 200 MB argument): {hit * 1e3:.1f} ms"
    )
    report(
        "Memory: first call vs cache hit, 200 MB argument",
        f"{miss:.2f} s vs {hit * 1e3:.1f} ms",
    )

    small = np.arange(10.0)
    cached_summarize(small)
    hits = []
    for _ in range(200):
        start = time.perf_counter()
        cached_summarize(small)
        hits.append(time.perf_counter() - start)
    hit_us = sorted(hits)[len(hits) // 2] * 1e6
    print(f"cache hit with a small argument: {hit_us:.0f} us (median of 200)")
    report("Memory: cache hit, small argument", f"{hit_us:.0f} us")

    mapped = joblet.Memory(folder / "cache", mmap_mode="r", verbose=0).cache(transform)
    part = data[: 50 * 1024 * 1024 // 8]  # 50 MB result
    mapped(part)
    start = time.perf_counter()
    view = mapped(part)
    print(
        f"hit returning a 50 MB array with mmap_mode='r': {type(view).__name__} in "
        f"{(time.perf_counter() - start) * 1e3:.1f} ms"
    )
    del view
    files = {p.name for p in (folder / "cache" / "joblet").rglob("*") if p.is_file()}
    print(f"files in the cache folder: {sorted(files)}")
    memory.clear(warn=False)


def demo_persistence(folder: Path) -> None:
    section("persistence (joblet.dump / joblet.load)")
    data = {
        # 100 MB of floats rounded to 3 decimals, which compress
        "weights": np.round(np.random.default_rng(2).random(100 * 1024 * 1024 // 8), 3),
        "labels": [f"class-{i % 7}" for i in range(100_000)],
    }
    path = folder / "model.joblet"
    for compress in (0, "lz4", ("zlib", 3)):
        start = time.perf_counter()
        joblet.dump(data, path, compress=compress)
        dumped = time.perf_counter() - start
        start = time.perf_counter()
        back = joblet.load(path)
        loaded = time.perf_counter() - start
        assert np.array_equal(back["weights"], data["weights"])
        size = path.stat().st_size / 1e6
        name = compress or "none"
        print(
            f"compress={name!s:<12} dump {dumped:.3f} s, load {loaded:.3f} s, {size:.1f} MB"
        )
    joblet.dump(data, path)
    start = time.perf_counter()
    mapped = joblet.load(path, mmap_mode="r")
    print(
        f"load(mmap_mode='r'): {type(mapped['weights']).__name__} in "
        f"{(time.perf_counter() - start) * 1e3:.1f} ms"
    )
    del mapped


def cpu_work(n: int) -> int:
    """Pure-Python CPU-bound work (holds the GIL)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def demo_parallel() -> None:
    section("parallel loops (joblet.Parallel)")
    n_tasks, size = 8, 4_000_000
    timings: dict[int, list[float]] = {1: [], 2: []}
    with joblet.Parallel(n_jobs=2) as parallel:
        start = time.perf_counter()
        parallel(joblet.delayed(cpu_work)(10) for _ in range(2))
        startup = time.perf_counter() - start
        for _ in range(2):  # alternate, keep the best: the machine may be shared
            start = time.perf_counter()
            sequential = [cpu_work(size) for _ in range(n_tasks)]
            timings[1].append(time.perf_counter() - start)
            start = time.perf_counter()
            results = parallel(joblet.delayed(cpu_work)(size) for _ in range(n_tasks))
            timings[2].append(time.perf_counter() - start)
            assert results == sequential
    one, two = min(timings[1]), min(timings[2])
    print(f"{n_tasks} CPU-bound tasks, n_jobs=1: {one:.2f} s")
    print(
        f"{n_tasks} CPU-bound tasks, n_jobs=2: {two:.2f} s (workers started in {startup:.2f} s)"
    )
    print(f"speed-up: {one / two:.2f}x on {os.cpu_count()} CPUs (best of 2 runs each)")
    busy = os.getloadavg()[0]
    if busy > (os.cpu_count() or 1):
        print(
            f"note: the machine is busy (load {busy:.1f} on {os.cpu_count()} CPUs); "
            "the speed-up is bounded by the CPUs other processes leave free"
        )
    report(
        "Parallel: n_jobs=1 vs n_jobs=2, CPU-bound",
        f"{one:.2f} s vs {two:.2f} s ({one / two:.2f}x)",
    )

    start = time.perf_counter()
    squares = joblet.Parallel(n_jobs=2, prefer="threads")(
        joblet.delayed(pow)(i, 2) for i in range(10)
    )
    print(f"threads: {squares} in {time.perf_counter() - start:.3f} s")


def sleepy(i: int) -> int:
    time.sleep(0.1)
    return i


def demo_dask() -> None:
    section("dask backend (joblet-dask on a LocalCluster)")
    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        started = time.perf_counter() - start
        start = time.perf_counter()
        with joblet.parallel_config("dask"):
            results = joblet.Parallel()(joblet.delayed(sleepy)(i) for i in range(20))
        elapsed = time.perf_counter() - start
    assert results == list(range(20))
    print(f"LocalCluster(2 workers) started in {started:.2f} s")
    print(f"20 tasks x 0.1 s on 2 workers: {elapsed:.2f} s (ideal 1.0 s)")
    report(
        "dask backend: 20 x 0.1 s tasks on 2 workers", f"{elapsed:.2f} s (ideal 1.0 s)"
    )


def demo_examples(folder: Path) -> bool:
    section("the documentation's examples (docs/examples/plot_*.py)")
    spec = importlib.util.spec_from_file_location(
        "gallery", ROOT / "docs" / "gallery.py"
    )
    assert spec is not None
    assert spec.loader is not None
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    results = gallery.run(gallery.examples())
    total = sum(elapsed for _, elapsed, _ in results)
    failed = [name for name, _, ok in results if not ok]
    report(
        "gallery examples run end to end",
        f"{len(results) - len(failed)}/{len(results)} ok in {total:.1f} s",
    )
    return not failed


def main() -> int:
    parser = argparse.ArgumentParser(description="A short tour of joblet with timings.")
    parser.add_argument("--skip-examples", action="store_true", help="skip the gallery")
    args = parser.parse_args()

    print(f"joblet {joblet.__version__}, {os.cpu_count()} CPUs")
    start = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="joblet-demo-"))
    # dask's scratch space (default: <tmp>/dask-scratch-space) goes there too.
    os.environ["DASK_TEMPORARY_DIRECTORY"] = str(folder / "dask-scratch")
    ok = True
    try:
        demo_hashing()
        demo_memory(folder)
        demo_persistence(folder)
        demo_parallel()
        demo_dask()
        if not args.skip_examples:
            ok = demo_examples(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    left = folder.exists()

    section("report")
    width = max(len(figure) for figure, _ in REPORT)
    for figure, value in REPORT:
        print(f"{figure:<{width}}  {value}")
    print(f"{'temporary files left behind':<{width}}  {'yes' if left else 'none'}")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{'load average (1, 5, 15 min)':<{width}}  {load}")
    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s")
    return 0 if ok and not left else 1


if __name__ == "__main__":
    raise SystemExit(main())
