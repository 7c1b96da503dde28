"""joblet_persist.dump/load side by side with numpy.save/load, pickle 5 and joblib 1.6.

    python tools/bench_persist.py [--quick] [--json out.json]

Figures (medians of alternating repetitions in one process; lower is better):

* 1 GB float64 array: dump and load against numpy.save / numpy.load (and joblib),
  ``load(mmap_mode='r')`` against ``numpy.load(mmap_mode='r')``;
* peak memory growth while dumping / loading that array, measured in a child
  process, as a fraction of the array size;
* 200 MB mixed data (float array, low-cardinality int array, 100k small dicts):
  lz4 and zlib-3 dump and load against joblib, and the file size ratio;
* a dict of 100k small Python objects against pickle protocol 5.
"""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Row, alternate, main, touch_memory


def _sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {
            "array": 100 * 2**20,
            "mix_floats": 1_250_000,
            "mix_ints": 1_000_000,
            "dicts": 10_000,
            "repeat": 2,
        }
    return {
        "array": 2**30,
        "mix_floats": 12_500_000,
        "mix_ints": 10_000_000,
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

        def before_each() -> None:
            gc.collect()
            touch_memory(nbytes)

        dumps = alternate(
            {
                "joblet": lambda: joblet_persist.dump(array, path("a.joblet")),
                "numpy": lambda: np.save(path("a.npy"), array),
                "joblib": lambda: joblib.dump(array, path("a.joblib")),
                "pickle5": lambda: Path(path("a.pkl")).write_bytes(
                    pickle.dumps(array, protocol=5)
                ),
            },
            repeat,
            before_each,
        )
        results: dict[str, object] = {}

        def keep(name, func):
            def call():
                results[name] = func()

            return call

        loads = alternate(
            {
                "joblet": keep("joblet", lambda: joblet_persist.load(path("a.joblet"))),
                "numpy": keep("numpy", lambda: np.load(path("a.npy"))),
                "joblib": keep("joblib", lambda: joblib.load(path("a.joblib"))),
            },
            repeat,
            lambda: (results.clear(), before_each()),
        )
        assert np.array_equal(joblet_persist.load(path("a.joblet")), array)
        maps = alternate(
            {
                "joblet": lambda: joblet_persist.load(path("a.joblet"), mmap_mode="r"),
                "numpy": lambda: np.load(path("a.npy"), mmap_mode="r"),
            },
            repeat * 3,
        )
        assert isinstance(
            joblet_persist.load(path("a.joblet"), mmap_mode="r"), np.memmap
        )
        rows += [
            Row(f"dump {label}", dumps["joblet"], "numpy.save", dumps["numpy"], "s"),
            Row(f"dump {label}", dumps["joblet"], "joblib 1.6", dumps["joblib"], "s"),
            Row(f"dump {label}", dumps["joblet"], "pickle 5", dumps["pickle5"], "s"),
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
        for name in ("a.joblet", "a.npy", "a.joblib", "a.pkl", "rss.joblet"):
            os.unlink(path(name))

        # ---- mixed data, compressed -------------------------------------------
        mixed = _mixed(sizes)
        mix_bytes = (
            mixed["floats"].nbytes
            + mixed["labels"].nbytes
            + len(pickle.dumps(mixed["records"]))
        )
        mix_label = f"{mix_bytes / 1e6:.0f} MB mix"
        for codec in ("lz4", ("zlib", 3)):
            name = "lz4" if codec == "lz4" else "zlib-3"
            joblib_codec = codec

            def warm() -> None:
                gc.collect()
                touch_memory(mix_bytes)

            dumps = alternate(
                {
                    "joblet": lambda c=codec: joblet_persist.dump(
                        mixed, path("m.joblet"), compress=c
                    ),
                    "joblib": lambda c=joblib_codec: joblib.dump(
                        mixed, path("m.joblib"), compress=c
                    ),
                },
                repeat,
                warm,
            )
            loads = alternate(
                {
                    "joblet": lambda: joblet_persist.load(path("m.joblet")),
                    "joblib": lambda: joblib.load(path("m.joblib")),
                },
                repeat,
                warm,
            )
            check = joblet_persist.load(path("m.joblet"))
            assert np.array_equal(check["labels"], mixed["labels"])
            assert check["records"][-1] == mixed["records"][-1]
            size_ratio = os.path.getsize(path("m.joblet")) / os.path.getsize(
                path("m.joblib")
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
                    os.path.getsize(path("m.joblet")) / 1e6,
                    "joblib 1.6",
                    os.path.getsize(path("m.joblet")) / 1e6 / size_ratio,
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
    return rows


if __name__ == "__main__":
    main(run)
