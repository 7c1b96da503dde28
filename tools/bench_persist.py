"""joblet_persist.dump/load side by side with numpy.save/load, pickle 5 and joblib 1.6.

    python tools/bench_persist.py [--quick] [--json out.json]

Figures (medians of alternating repetitions in one process; lower is better):

* 1 GB float64 array: dump and load against numpy.save / numpy.load (and joblib),
  ``load(mmap_mode='r')`` against ``numpy.load(mmap_mode='r')``;
* peak memory growth while dumping / loading that array, measured in a child
  process, as a fraction of the array size;
* 200 MB mixed data (100 MB float array, 96 MB low-cardinality int array, 100k
  small dicts): lz4 and zlib-3 dump and load against joblib, and the file size
  ratio;
* a dict of 100k small Python objects against pickle protocol 5.

Fairness on this shared VM (see /work/shared/benchmarking.md):

* the contenders' order is reversed every other round, and medians are reported;
* before every timed dump, each contender's previous file is removed and
  ``os.sync()`` flushes all dirty pages, untimed: otherwise the contender that
  writes next pays for the previous one's writeback (and, on ext4, replacing an
  existing file triggers a writeback flush of the new one: that is measured
  separately, "over an existing file", for joblet and numpy.save alike);
* before every timed step that allocates large buffers, that much memory is
  allocated with numpy and filled, then freed (numpy allocates huge pages; a
  ``bytes`` buffer of the same size does not keep them warm).
"""

from __future__ import annotations

import gc
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Row, main, touch_memory


def alternate(
    contenders: dict[str, Callable[[], object]],
    repeat: int,
    before_each: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Median wall time of each callable; the order is reversed every other round."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_ in range(repeat):
        for name in names if round_ % 2 == 0 else names[::-1]:
            if before_each is not None:
                before_each(name)
            start = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def touch(nbytes: int) -> None:
    """Allocate, fill and free ``nbytes`` the way numpy does (huge pages), untimed."""
    gc.collect()
    try:
        import numpy
    except ImportError:
        touch_memory(nbytes)
        return
    buffer = numpy.ones(nbytes, dtype=numpy.uint8)
    del buffer


def before_dump(files: dict[str, str], nbytes: int) -> Callable[[str], None]:
    """Untimed, before contender ``name`` dumps: remove its file, sync, touch memory."""

    def before(name: str) -> None:
        if os.path.exists(files[name]):
            os.unlink(files[name])
        os.sync()
        touch(nbytes)

    return before


def _sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {
            "array": 100 * 2**20,
            "mix_floats": 1_250_000,
            "mix_ints": 1_200_000,
            "dicts": 10_000,
            "repeat": 2,
        }
    return {
        "array": 2**30,
        "mix_floats": 12_500_000,
        "mix_ints": 12_000_000,
        "dicts": 100_000,
        "repeat": 3,
    }


def _mixed(sizes: dict[str, int]):
    import numpy as np

    rng = np.random.default_rng(0)
    return {
        "floats": rng.standard_normal(sizes["mix_floats"]).round(3),
        "labels": rng.integers(0, 12, sizes["mix_ints"]).astype(np.int64),
        "records": [
            {"id": i, "name": f"user{i}", "score": i * 0.5, "tags": ["a", "b"]}
            for i in range(sizes["dicts"])
        ],
    }


def _small_objects(n: int) -> dict:
    return {
        f"key{i}": {"id": i, "value": i * 1.5, "name": f"item{i}", "flag": i % 2 == 0}
        for i in range(n)
    }


# Peak RSS is read from VmHWM after resetting it through /proc/self/clear_refs:
# ru_maxrss of a child started by fork would include the parent's size.
_PEAK = """
def peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")
"""

CHILD_DUMP = (
    """
import numpy as np, joblet_persist
a = np.ones({n} // 8)
"""
    + _PEAK
    + """
before = peak()
joblet_persist.dump(a, {path!r})
print((peak() - before) / a.nbytes)
"""
)

CHILD_LOAD = (
    """
import numpy as np, joblet_persist
"""
    + _PEAK
    + """
before = peak()
a = joblet_persist.load({path!r})
print((peak() - before) / a.nbytes)
"""
)


def _child_ratio(code: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    return float(out.stdout.strip())


def run(quick: bool) -> list[Row]:
    import joblib
    import numpy as np

    import joblet_persist

    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    sizes = _sizes(quick)
    repeat = sizes["repeat"]
    rows: list[Row] = []
    folder = tempfile.mkdtemp(prefix="bench-persist-", dir=os.environ.get("BENCH_TMP"))
    path = lambda name: os.path.join(folder, name)  # noqa: E731
    try:
        # ---- large array ------------------------------------------------------
        nbytes = sizes["array"]
        array = np.random.default_rng(1).random(nbytes // 8)
        label = (
            f"{nbytes / 2**30:.2g} GB float64"
            if nbytes >= 2**30
            else f"{nbytes >> 20} MB float64"
        )

        files = {
            "joblet": path("joblet.a"),
            "numpy": path("numpy.a.npy"),
            "joblib": path("joblib.a"),
            "pickle5": path("pickle5.a"),
        }

        def pickle_dump() -> None:
            with open(files["pickle5"], "wb") as handle:
                handle.write(pickle.dumps(array, protocol=5))

        dump_funcs = {
            "joblet": lambda: joblet_persist.dump(array, files["joblet"]),
            "numpy": lambda: np.save(files["numpy"], array),
            "joblib": lambda: joblib.dump(array, files["joblib"]),
            "pickle5": pickle_dump,
        }
        dumps = alternate(dump_funcs, repeat, before_dump(files, nbytes))

        def sync_touch(name: str) -> None:
            os.sync()
            touch(nbytes)

        # The same, but replacing the file the previous round wrote (an ext4
        # rename or truncate over an existing file starts its writeback at once).
        overwrites = alternate(
            {name: dump_funcs[name] for name in ("joblet", "numpy")},
            repeat,
            sync_touch,
        )
        results: dict[str, object] = {}

        def keep(name, func):
            def call():
                results[name] = func()

            return call

        loads = alternate(
            {
                "joblet": keep("joblet", lambda: joblet_persist.load(files["joblet"])),
                "numpy": keep("numpy", lambda: np.load(files["numpy"])),
                "joblib": keep("joblib", lambda: joblib.load(files["joblib"])),
            },
            repeat,
            lambda name: (results.clear(), touch(nbytes)),
        )
        assert np.array_equal(joblet_persist.load(files["joblet"]), array)
        maps = alternate(
            {
                "joblet": lambda: joblet_persist.load(files["joblet"], mmap_mode="r"),
                "numpy": lambda: np.load(files["numpy"], mmap_mode="r"),
            },
            repeat * 3,
        )
        assert isinstance(
            joblet_persist.load(files["joblet"], mmap_mode="r"), np.memmap
        )
        rows += [
            Row(f"dump {label}", dumps["joblet"], "numpy.save", dumps["numpy"], "s"),
            Row(f"dump {label}", dumps["joblet"], "joblib 1.6", dumps["joblib"], "s"),
            Row(f"dump {label}", dumps["joblet"], "pickle 5", dumps["pickle5"], "s"),
            Row(
                f"dump {label} over an existing file",
                overwrites["joblet"],
                "numpy.save",
                overwrites["numpy"],
                "s",
            ),
            Row(f"load {label}", loads["joblet"], "numpy.load", loads["numpy"], "s"),
            Row(f"load {label}", loads["joblet"], "joblib 1.6", loads["joblib"], "s"),
            Row(
                f"load(mmap_mode='r') {label}",
                maps["joblet"] * 1e3,
                "numpy.load mmap",
                maps["numpy"] * 1e3,
                "ms",
            ),
        ]
        array = results = None  # free the array before the child processes run
        gc.collect()
        rows.append(
            Row(
                f"peak RSS growth, dump {label} (x array)",
                _child_ratio(CHILD_DUMP.format(n=nbytes, path=path("rss.joblet"))),
                "target",
                0.05,
                "x",
            )
        )
        rows.append(
            Row(
                f"peak RSS growth, load {label} (x array)",
                _child_ratio(CHILD_LOAD.format(path=path("rss.joblet"))),
                "target",
                1.1,
                "x",
            )
        )
        for name in [*files.values(), path("rss.joblet")]:
            os.unlink(name)

        # ---- mixed data, compressed -------------------------------------------
        mixed = _mixed(sizes)
        mix_bytes = (
            mixed["floats"].nbytes
            + mixed["labels"].nbytes
            + len(pickle.dumps(mixed["records"]))
        )
        mix_label = f"{mix_bytes / 1e6:.0f} MB mix"
        mix_files = {"joblet": path("joblet.m"), "joblib": path("joblib.m")}
        for codec in ("lz4", ("zlib", 3)):
            name = "lz4" if codec == "lz4" else "zlib-3"
            joblib_codec = codec

            dumps = alternate(
                {
                    "joblet": lambda c=codec: joblet_persist.dump(
                        mixed, mix_files["joblet"], compress=c
                    ),
                    "joblib": lambda c=joblib_codec: joblib.dump(
                        mixed, mix_files["joblib"], compress=c
                    ),
                },
                repeat,
                before_dump(mix_files, mix_bytes),
            )
            loads = alternate(
                {
                    "joblet": lambda: joblet_persist.load(mix_files["joblet"]),
                    "joblib": lambda: joblib.load(mix_files["joblib"]),
                },
                repeat,
                lambda name: touch(mix_bytes),
            )
            check = joblet_persist.load(mix_files["joblet"])
            assert np.array_equal(check["labels"], mixed["labels"])
            assert check["records"][-1] == mixed["records"][-1]
            size_ratio = os.path.getsize(mix_files["joblet"]) / os.path.getsize(
                mix_files["joblib"]
            )
            rows += [
                Row(
                    f"{name} dump {mix_label}",
                    dumps["joblet"],
                    "joblib 1.6",
                    dumps["joblib"],
                    "s",
                ),
                Row(
                    f"{name} load {mix_label}",
                    loads["joblet"],
                    "joblib 1.6",
                    loads["joblib"],
                    "s",
                ),
                Row(
                    f"{name} file size {mix_label}",
                    os.path.getsize(mix_files["joblet"]) / 1e6,
                    "joblib 1.6",
                    os.path.getsize(mix_files["joblet"]) / 1e6 / size_ratio,
                    "MB",
                ),
            ]
        mixed = None
        gc.collect()

        # ---- many small objects -----------------------------------------------
        objects = _small_objects(sizes["dicts"])

        def pickle_dump() -> None:
            with open(path("o.pkl"), "wb") as handle:
                pickle.dump(objects, handle, protocol=5)

        def pickle_load() -> object:
            with open(path("o.pkl"), "rb") as handle:
                return pickle.load(handle)

        dumps = alternate(
            {
                "joblet": lambda: joblet_persist.dump(objects, path("o.joblet")),
                "pickle": pickle_dump,
            },
            repeat * 2,
        )
        loads = alternate(
            {
                "joblet": lambda: joblet_persist.load(path("o.joblet")),
                "pickle": pickle_load,
            },
            repeat * 2,
        )
        assert joblet_persist.load(path("o.joblet")) == objects
        label = f"{sizes['dicts'] // 1000}k small dicts"
        rows += [
            Row(
                f"dump {label}",
                dumps["joblet"] * 1e3,
                "pickle 5",
                dumps["pickle"] * 1e3,
                "ms",
            ),
            Row(
                f"load {label}",
                loads["joblet"] * 1e3,
                "pickle 5",
                loads["pickle"] * 1e3,
                "ms",
            ),
        ]
    finally:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)
    print(f"load average at end: {os.getloadavg()[0]:.2f} (other work on the 2 CPUs)")
    return rows


if __name__ == "__main__":
    main(run)
