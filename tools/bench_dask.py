"""The dask backend against dask's own client.map on the same cluster.

Usage: ``python tools/bench_dask.py [--quick] [--json FILE]``

* per-task overhead: N tiny tasks through ``Parallel`` on the dask backend vs
  ``client.gather(client.map(...))``, alternated, medians;
* joblib 0.13's dask example: 10 x sleep(0.1) on 2 workers vs the ideal 0.5 s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Row, alternate, main
from dask.distributed import Client, LocalCluster

from joblet_parallel import Parallel, delayed, parallel_config


def tiny(i: int) -> int:
    return i + 1


def sleepy(i: int) -> int:
    time.sleep(0.1)
    return i


def run(quick: bool) -> list[Row]:
    tasks = 2_000 if quick else 10_000
    repeat = 3 if quick else 5
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
        parallel_config("dask"),
    ):
        expected = [tiny(i) for i in range(tasks)]
        assert Parallel()(delayed(tiny)(i) for i in range(tasks)) == expected
        # pure=False: dask must not reuse results between repetitions.
        assert client.gather(client.map(tiny, range(tasks), pure=False)) == expected
        times = alternate(
            {
                "joblet": lambda: Parallel()(delayed(tiny)(i) for i in range(tasks)),
                "dask": lambda: client.gather(
                    client.map(tiny, range(tasks), pure=False)
                ),
            },
            repeat,
        )
        rows = [
            Row(
                f"{tasks:,} tiny tasks on a 2-worker LocalCluster",
                times["joblet"] * 1e6 / tasks,
                "client.map",
                times["dask"] * 1e6 / tasks,
                "us/task",
            )
        ]
        ideal = 10 * 0.1 / 2
        elapsed = alternate(
            {"joblet": lambda: Parallel()(delayed(sleepy)(i) for i in range(10))},
            repeat,
        )["joblet"]
        rows.append(
            Row(
                "joblib docs dask example: 10 x sleep(0.1) on 2 workers",
                elapsed,
                "ideal",
                ideal,
                "s",
            )
        )
    return rows


if __name__ == "__main__":
    main(run)
