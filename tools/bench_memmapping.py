"""Large arguments in Parallel: joblet's memmapping against joblib 1.6.

Usage: ``python tools/bench_memmapping.py [--quick] [--json FILE]``

All on warm pools, contenders alternated, medians:

* 8 tasks each receiving the same large float64 array, default settings: the
  first call with that array, and the second call in the same
  ``with Parallel`` block (joblet's reuse across calls: a content fingerprint
  instead of a write);
* the same call with a ``joblet_parallel.shared_array`` (made beforehand, as a
  user would allocate it): nothing to write; compared with joblib's first call;
* 8 tasks each receiving one pyarrow Table of the same size (protocol-5 buffers
  written once and mapped), with joblet's numpy figure alongside;
* peak memory (PSS: shared pages counted once) of parent plus workers during each
  of those calls, relative to the data, measured in a child interpreter;
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


def first_element(data):
    return data.num_rows if hasattr(data, "num_rows") else float(data[0])


def element(array, i):
    return float(array[i])


LIBRARIES = {
    "joblet": (joblet_parallel.Parallel, joblet_parallel.delayed),
    "joblib": (joblib.Parallel, joblib.delayed),
}
TASKS = 8


def eight_tasks(parallel, delayed, data):
    return parallel(delayed(first_element)(data) for _ in range(TASKS))


def make_table(nbytes: int):
    import pyarrow as pa

    columns = 4
    rows = nbytes // 8 // columns
    rng = np.random.default_rng(0)
    return pa.table({f"c{i}": rng.random(rows) for i in range(columns)})


def same_array_rows(megabytes: int, repeat: int) -> list[Row]:
    nbytes = megabytes * 1024**2
    source = np.random.default_rng(0).random(nbytes // 8)
    fresh = {"joblet": source.copy(), "joblib": source.copy()}

    def renew(library):
        # A new array object with new memory: nothing of it is written yet.
        fresh[library] = None
        fresh[library] = source.copy()

    def first(library):
        parallel, delayed = LIBRARIES[library]
        renew(library)
        return lambda: eight_tasks(parallel(n_jobs=2), delayed, fresh[library])

    blocks = {name: LIBRARIES[name][0](n_jobs=2) for name in LIBRARIES}
    for block in blocks.values():
        block.__enter__()

    def second(library):
        parallel, delayed = blocks[library], LIBRARIES[library][1]
        renew(library)
        eight_tasks(parallel, delayed, fresh[library])  # the first call, untimed
        return lambda: eight_tasks(parallel, delayed, fresh[library])

    shared = joblet_parallel.shared_array(source)
    table = make_table(nbytes)

    def call_with(library, data):
        parallel, delayed = LIBRARIES[library]
        return lambda: eight_tasks(parallel(n_jobs=2), delayed, data)

    for library in LIBRARIES:  # warm pools; results checked untimed
        assert first(library)() == [float(source[0])] * TASKS
        assert second(library)() == [float(source[0])] * TASKS
        assert call_with(library, table)() == [table.num_rows] * TASKS
    assert call_with("joblet", shared)() == [float(source[0])] * TASKS

    times = alternate_prepared(
        {
            "joblet first": lambda: first("joblet"),
            "joblib first": lambda: first("joblib"),
            "joblet second": lambda: second("joblet"),
            "joblib second": lambda: second("joblib"),
            "joblet shared": lambda: call_with("joblet", shared),
            "joblet table": lambda: call_with("joblet", table),
            "joblib table": lambda: call_with("joblib", table),
        },
        repeat,
    )
    for block in blocks.values():
        block.__exit__(None, None, None)
    mb = f"{megabytes} MB"
    return [
        Row(
            f"{TASKS} tasks x the same {mb} array, first call",
            times["joblet first"],
            "joblib.Parallel",
            times["joblib first"],
            "s",
        ),
        Row(
            "the same call again in one with-Parallel block",
            times["joblet second"],
            "joblib.Parallel",
            times["joblib second"],
            "s",
        ),
        Row(
            f"{TASKS} tasks x a {mb} shared_array (vs joblib's first call)",
            times["joblet shared"],
            "joblib.Parallel",
            times["joblib first"],
            "s",
        ),
        Row(
            f"{TASKS} tasks x one {mb} pyarrow Table",
            times["joblet table"],
            "joblib.Parallel",
            times["joblib table"],
            "s",
        ),
        Row(
            f"{TASKS} tasks x one {mb} pyarrow Table (vs joblet's numpy first call)",
            times["joblet table"],
            "joblet numpy",
            times["joblet first"],
            "s",
        ),
    ]


def alternate_prepared(prepare, repeat):
    """Like ``benchlib.alternate``, with an untimed preparation step per call:
    ``prepare[name]()`` returns the callable that is then timed. Garbage from
    the preparation (200 MB arrays, their files) is collected before the clock
    starts, and the collector is off while it runs (as ``timeit`` does), so no
    contender pays for another's freed memory."""
    import gc
    import statistics
    import time

    samples = {name: [] for name in prepare}
    for _ in range(repeat):
        for name, make in prepare.items():
            call = make()
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - start)
            finally:
                gc.enable()
    return {name: statistics.median(values) for name, values in samples.items()}


PEAK_SCRIPT = """
import json, sys, threading, time
import numpy as np, psutil
library, case, megabytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
if library == "joblet":
    from joblet_parallel import Parallel, delayed, shared_array
else:
    from joblib import Parallel, delayed

def first_element(data):
    return data.num_rows if hasattr(data, "num_rows") else float(data[0])

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
    nbytes = megabytes * 1024**2
    if case == "table":
        import pyarrow as pa
        rng = np.random.default_rng(0)
        data = pa.table({f"c{i}": rng.random(nbytes // 32) for i in range(4)})
    else:
        data = np.random.default_rng(0).random(nbytes // 8)
        if case == "shared":
            data = shared_array(data)  # the plain array is freed: only the shared copy
    peak = [0]
    done = threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], pss_total())
            time.sleep(0.01)
    sampler = threading.Thread(target=sample)
    sampler.start()
    with Parallel(n_jobs=2) as parallel:
        for _ in range(2 if case == "second" else 1):
            parallel(delayed(first_element)(data) for _ in range(8))
    done.set()
    sampler.join()
    print(json.dumps({"peak_growth": peak[0] - baseline, "data": nbytes}))
"""


def peak_ratio(library: str, case: str, megabytes: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, library, case, str(megabytes)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["peak_growth"] / result["data"]


def peak_memory_rows(megabytes: int) -> list[Row]:
    rows = []
    for case, label in [
        ("first", "first call"),
        ("second", "two calls in one with block"),
        ("table", "pyarrow Table"),
    ]:
        joblet, joblib_ratio = (peak_ratio(lib, case, megabytes) for lib in LIBRARIES)
        rows.append(
            Row(
                f"peak PSS growth, parent + workers, {megabytes} MB, {label}",
                joblet,
                "joblib.Parallel",
                joblib_ratio,
                "x data",
            )
        )
    shared = peak_ratio("joblet", "shared", megabytes)
    first_joblib = rows[0].reference
    rows.append(
        Row(
            f"peak PSS growth, parent + workers, {megabytes} MB shared_array",
            shared,
            "joblib first call",
            first_joblib,
            "x data",
        )
    )
    return rows


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
