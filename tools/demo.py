"""The main job: a short tour of joblet with timings (``nox -s demo``).

Each section exercises one distribution through the ``joblet`` meta-package, the
way a user would, and prints what it did and how fast.
"""

from __future__ import annotations

import time

import numpy as np

import joblet


def section(title: str) -> None:
    print(f"\n== {title}")


def demo_hashing() -> None:
    section("hashing (joblet.hash)")
    array = np.random.default_rng(0).random(200 * 1024 * 1024 // 8)  # 200 MB
    for hash_name in ("xxh3_128", "md5"):
        start = time.perf_counter()
        digest = joblet.hash(array, hash_name=hash_name)
        elapsed = time.perf_counter() - start
        speed = array.nbytes / elapsed / 1e9
        print(f"200 MB float64 array, {hash_name:>8}: {digest}  ({speed:.1f} GB/s)")

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


def main() -> None:
    print(f"joblet {joblet.__version__}")
    start = time.perf_counter()
    demo_hashing()
    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
