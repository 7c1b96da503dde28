"""Large numpy arguments in Parallel: joblet's memmapping against joblib 1.6.

Usage: ``python tools/bench_memmapping.py [--quick] [--json FILE]``

* 8 tasks each receiving the same large float64 array, default settings
  (both libraries dump it once to /dev/shm and workers map it), warm pools;
* peak memory (PSS: shared pages counted once) of parent plus workers during
  that call, relative to the array, measured in a child interpreter;
* a 1 GB ``numpy.memmap`` passed to 100 tasks, and the same call with a tiny
  array: the difference is what passing the memmap costs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import joblib
import numpy as np
from benchlib import Row, alternate, main

import joblet_parallel


def first_element(array):
    return float(array[0])


def element(array, i):
    return float(array[i])


LIBRARIES = {
    "joblet": (joblet_parallel.Parallel, joblet_parallel.delayed),
    "joblib": (joblib.Parallel, joblib.delayed),
}


def same_array_rows(megabytes: int, repeat: int) -> list[Row]:
    array = np.random.default_rng(0).random(megabytes * 1024**2 // 8)

    def call(library: str) -> list[float]:
        parallel, delayed = LIBRARIES[library]
        return parallel(n_jobs=2)(delayed(first_element)(array) for _ in range(8))

    for library in LIBRARIES:  # warm pools; results checked untimed
        assert call(library) == [float(array[0])] * 8

    def warm_memory() -> None:
        # /dev/shm pages come from memory this VM may have handed back.
        scratch = np.ones(array.size)
        del scratch

    times = alternate(
        {name: (lambda name=name: call(name)) for name in LIBRARIES},
        repeat,
        before_each=warm_memory,
    )
    return [
        Row(
            f"8 tasks x the same {megabytes} MB array (default settings)",
            times["joblet"],
            "joblib.Parallel",
            times["joblib"],
            "s",
        )
    ]


PEAK_SCRIPT = """
import json, sys, threading, time
import numpy as np, psutil
library = sys.argv[1]
megabytes = int(sys.argv[2])
if library == "joblet":
    from joblet_parallel import Parallel, delayed
else:
    from joblib import Parallel, delayed

def first_element(array):
    return float(array[0])

def pss_total():
    me = psutil.Process()
    total = 0
    for process in [me, *me.children(recursive=True)]:
        try:
            total += process.memory_full_info().pss
        except psutil.Error:
            pass
    return total

if __name__ == "__main__":
    Parallel(n_jobs=2)(delayed(first_element)(np.ones(10)) for _ in range(2))  # start workers
    baseline = pss_total()
    array = np.random.default_rng(0).random(megabytes * 1024**2 // 8)
    peak = [0]
    done = threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], pss_total())
            time.sleep(0.01)
    sampler = threading.Thread(target=sample)
    sampler.start()
    Parallel(n_jobs=2)(delayed(first_element)(array) for _ in range(8))
    done.set()
    sampler.join()
    print(json.dumps({"peak_growth": peak[0] - baseline, "array": array.nbytes}))
"""


def peak_memory_rows(megabytes: int) -> list[Row]:
    ratios = {}
    for library in LIBRARIES:
        out = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, library, str(megabytes)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        ratios[library] = result["peak_growth"] / result["array"]
    return [
        Row(
            f"peak PSS growth, parent + workers, 8 tasks x {megabytes} MB array",
            ratios["joblet"],
            "joblib.Parallel",
            ratios["joblib"],
            "x array",
        )
    ]


def memmap_rows(gigabytes: float, repeat: int) -> list[Row]:
    tasks = 100
    with tempfile.TemporaryDirectory() as folder:
        size = int(gigabytes * 1024**3) // 8
        memmap = np.memmap(
            Path(folder) / "data.mmap", dtype="f8", mode="w+", shape=(size,)
        )
        memmap[::4096] = 1.0
        memmap.flush()
        tiny = np.ones(tasks)

        def call(library: str, array) -> list[float]:
            parallel, delayed = LIBRARIES[library]
            return parallel(n_jobs=2)(delayed(element)(array, i) for i in range(tasks))

        contenders = {}
        for library in LIBRARIES:
            assert call(library, memmap) == [float(memmap[i]) for i in range(tasks)]
            contenders[f"{library} memmap"] = lambda library=library, array=memmap: (
                call(library, array)
            )
            contenders[f"{library} tiny"] = lambda library=library: call(library, tiny)
        times = alternate(contenders, repeat)
    # The whole call, and the same call with a tiny array: their difference is
    # what passing the memmap costs (a difference of medians, so noisy at the
    # millisecond level; both rows are shown rather than a clipped difference).
    return [
        Row(
            f"{tasks} tasks each given a {gigabytes:g} GB memmap, whole call",
            times["joblet memmap"] * 1e3,
            "joblib.Parallel",
            times["joblib memmap"] * 1e3,
            "ms",
        ),
        Row(
            f"the same {tasks} tasks given a tiny array, whole call",
            times["joblet tiny"] * 1e3,
            "joblib.Parallel",
            times["joblib tiny"] * 1e3,
            "ms",
        ),
    ]


def run(quick: bool) -> list[Row]:
    repeat = 3 if quick else 5
    megabytes = 50 if quick else 200
    rows = same_array_rows(megabytes, repeat)
    rows += memmap_rows(0.25 if quick else 1.0, repeat)
    rows += peak_memory_rows(megabytes)
    return rows


if __name__ == "__main__":
    main(run)
