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
* the two figures issue 25's outside review measured: a zlib-3 1 GB float64
  array (dump and load) and an xz dump of a 32 MB object, against joblib 1.6;
* a dict of 100k small Python objects against pickle protocol 5.

Fairness on a shared, noisy machine:

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
            "repeat_array": 2,
        }
    return {
        "array": 2**30,
        "mix_floats": 12_500_000,
        "mix_ints": 12_000_000,
        "dicts": 100_000,
        "repeat": 3,
        # the 1 GB figures against numpy are within 10% of each other: the
        # median of 5 rounds, not 3, is what a run reports for them
        "repeat_array": 5,
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


SECTIONS = (
    "array",
    "checks",
    "mixed",
    "codecs",
    "review",
    "zstd",
    "objects",
    "memory",
)
MIX_KEYS = ("mix_floats", "mix_ints", "dicts")


def _array_section(sizes, path, repeat) -> list[Row]:
    import joblib
    import numpy as np

    import joblet_persist

    rows: list[Row] = []
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
    assert isinstance(joblet_persist.load(files["joblet"], mmap_mode="r"), np.memmap)
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

    return rows


def _checks_section(sizes, path, repeat) -> list[Row]:
    """The cost of the per-buffer xxh3 checksums: the same dump and load without.

    "no checksums" runs the same code with the hashing replaced by nothing (for
    the dump) and ``verify=False`` (for the load): what joblet cost before
    checksums. "hashed inline" turns off the helper thread that hashes large
    buffers alongside the write and the read (the design choice being measured).
    """
    import numpy as np

    import joblet_persist
    from joblet_persist import _checksums, _dump

    nbytes = sizes["array"]
    array = np.random.default_rng(1).random(nbytes // 8)
    names = ("checked", "inline", "unchecked")
    files = {name: path(f"{name}.a") for name in names}
    hashed = _dump.hashed_slices
    helper_min = _checksums.BACKGROUND_MIN

    def unhashed(data, digests):
        digests.append(0)
        yield data

    def without(name, func):
        def call():
            if name == "inline":
                _checksums.BACKGROUND_MIN = 1 << 62
            else:
                _dump.hashed_slices = unhashed
            try:
                return func()
            finally:
                _dump.hashed_slices = hashed
                _checksums.BACKGROUND_MIN = helper_min

        return call

    dumps = alternate(
        {
            "checked": lambda: joblet_persist.dump(array, files["checked"]),
            "inline": without(
                "inline", lambda: joblet_persist.dump(array, files["inline"])
            ),
            "unchecked": without(
                "unchecked", lambda: joblet_persist.dump(array, files["unchecked"])
            ),
        },
        repeat,
        before_dump(files, nbytes),
    )
    loads = alternate(
        {
            "checked": lambda: joblet_persist.load(files["checked"]),
            "inline": without("inline", lambda: joblet_persist.load(files["checked"])),
            "unchecked": lambda: joblet_persist.load(files["checked"], verify=False),
        },
        repeat,
        lambda name: touch(nbytes),
    )
    assert np.array_equal(joblet_persist.load(files["checked"]), array)
    label = (
        f"{nbytes / 2**30:.2g} GB float64" if nbytes >= 2**30 else f"{nbytes >> 20} MB"
    )
    rows = []
    for reference, shown in (
        ("unchecked", "no checksums"),
        ("inline", "hashed inline"),
    ):
        rows += [
            Row(
                f"dump {label}, checksums",
                dumps["checked"],
                shown,
                dumps[reference],
                "s",
            ),
            Row(
                f"load {label}, checksums verified",
                loads["checked"],
                shown if reference == "inline" else "not verified",
                loads[reference],
                "s",
            ),
            Row(
                f"dump + load {label}, checksums",
                dumps["checked"] + loads["checked"],
                shown,
                dumps[reference] + loads[reference],
                "s",
            ),
        ]
    return rows


def _compare_codecs(mixed, mix_label, mix_bytes, path, repeat, codecs) -> list[Row]:
    """joblet and joblib 1.6 dumping and loading ``mixed`` with the same ``compress``."""
    import joblib
    import numpy as np

    import joblet_persist

    rows: list[Row] = []
    mix_files = {"joblet": path("joblet.m"), "joblib": path("joblib.m")}
    for name, codec in codecs:
        dumps = alternate(
            {
                "joblet": lambda c=codec: joblet_persist.dump(
                    mixed, mix_files["joblet"], compress=c
                ),
                "joblib": lambda c=codec: joblib.dump(
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
        sizes = {who: os.path.getsize(file) / 1e6 for who, file in mix_files.items()}
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
                sizes["joblet"],
                "joblib 1.6",
                sizes["joblib"],
                "MB",
            ),
        ]
    return rows


def _mixed_data(sizes):
    mixed = _mixed(sizes)
    mix_bytes = (
        mixed["floats"].nbytes
        + mixed["labels"].nbytes
        + len(pickle.dumps(mixed["records"]))
    )
    return mixed, mix_bytes, f"{mix_bytes / 1e6:.0f} MB mix"


def _mixed_section(sizes, path, repeat) -> list[Row]:
    mixed, mix_bytes, label = _mixed_data(sizes)
    codecs = [("lz4", "lz4"), ("zlib-3", ("zlib", 3))]
    return _compare_codecs(mixed, label, mix_bytes, path, repeat, codecs)


def _codecs_section(sizes, path, repeat) -> list[Row]:
    """gzip, xz and bz2 at their default levels: slow, so timed once each."""
    mixed, mix_bytes, label = _mixed_data(sizes)
    codecs = [("gzip", "gzip"), ("xz", "xz"), ("bz2", "bz2")]
    return _compare_codecs(mixed, label, mix_bytes, path, 1, codecs)


def _review_section(sizes, path, repeat) -> list[Row]:
    """The two figures issue 25's outside review measured, against joblib 1.6.

    A zlib-3 1 GB float64 array (dumped once each: about 20 s; loaded
    ``repeat`` times) and an xz dump of a 32 MB object (the mix, scaled down).
    """
    import joblib
    import numpy as np

    import joblet_persist

    rows: list[Row] = []
    nbytes = sizes["array"]
    array = np.random.default_rng(1).random(nbytes // 8)
    files = {"joblet": path("z.joblet"), "joblib": path("z.joblib")}
    writers = {"joblet": joblet_persist.dump, "joblib": joblib.dump}
    readers = {"joblet": joblet_persist.load, "joblib": joblib.load}
    dumps = alternate(
        {
            who: lambda w=writer, f=files[who]: w(array, f, compress=("zlib", 3))
            for who, writer in writers.items()
        },
        1,
        before_dump(files, nbytes),
    )
    loads = alternate(
        {who: lambda r=reader, f=files[who]: r(f) for who, reader in readers.items()},
        repeat,
        lambda name: touch(nbytes),
    )
    assert np.array_equal(joblet_persist.load(files["joblet"]), array)
    label = f"{nbytes / 2**30:.2g} GB float64 array"
    rows += [
        Row(
            f"zlib-3 dump {label}", dumps["joblet"], "joblib 1.6", dumps["joblib"], "s"
        ),
        Row(
            f"zlib-3 load {label}", loads["joblet"], "joblib 1.6", loads["joblib"], "s"
        ),
    ]
    array = None
    scale = 0.16  # the 200 MB mix scaled to 32 MB
    mixed = _mixed({key: int(sizes[key] * scale) for key in MIX_KEYS})
    mix_bytes = mixed["floats"].nbytes + mixed["labels"].nbytes
    mix_bytes += len(pickle.dumps(mixed["records"]))
    object_label = f"{mix_bytes / 1e6:.0f} MB object"
    return rows + _compare_codecs(
        mixed, object_label, mix_bytes, path, repeat, [("xz", "xz")]
    )


def _zstd_section(sizes, path, repeat) -> list[Row]:
    """zstd levels 1, 3, 9 against joblet's own zlib-3 and lz4 (joblib has no zstd)."""
    import numpy as np

    import joblet_persist

    mixed, mix_bytes, label = _mixed_data(sizes)
    contenders = {
        "zstd-1": ("zstd", 1),
        "zstd-3": ("zstd", 3),
        "zstd-9": ("zstd", 9),
        "zlib-3": ("zlib", 3),
        "lz4": "lz4",
    }
    files = {name: path(f"{name}.m") for name in contenders}
    dumps = alternate(
        {
            name: lambda n=name, c=codec: joblet_persist.dump(
                mixed, files[n], compress=c
            )
            for name, codec in contenders.items()
        },
        repeat,
        before_dump(files, mix_bytes),
    )
    loads = alternate(
        {name: lambda n=name: joblet_persist.load(files[n]) for name in contenders},
        repeat,
        lambda name: touch(mix_bytes),
    )
    rows: list[Row] = []
    for name in contenders:
        check = joblet_persist.load(files[name])
        assert np.array_equal(check["labels"], mixed["labels"])
        ratio = mix_bytes / os.path.getsize(files[name])
        for reference in ("zlib-3", "lz4") if name.startswith("zstd") else ():
            rows.append(
                Row(
                    f"{name} dump {label}",
                    dumps[name],
                    f"joblet {reference}",
                    dumps[reference],
                    "s",
                )
            )
            rows.append(
                Row(
                    f"{name} load {label}",
                    loads[name],
                    f"joblet {reference}",
                    loads[reference],
                    "s",
                )
            )
        print(
            f"{name}: dump {dumps[name]:.2f} s, load {loads[name]:.2f} s, "
            f"ratio {ratio:.2f} (raw / stored)"
        )
    return rows


CHILD_COMPRESSED_DUMP = (
    """
import numpy as np, joblet_persist
a = np.random.default_rng(0).integers(0, 12, {n} // 8)
"""
    + _PEAK
    + """
before = peak()
joblet_persist.dump(a, {path!r}, compress={compress!r})
print((peak() - before) / a.nbytes)
"""
)


def _memory_section(sizes, path, repeat) -> list[Row]:
    rows = []
    for compress in ("lz4", ("zlib", 3)):
        ratio = _child_ratio(
            CHILD_COMPRESSED_DUMP.format(
                n=sizes["array"], path=path("c.joblet"), compress=compress
            )
        )
        os.unlink(path("c.joblet"))
        rows.append(
            Row(
                f"peak RSS growth, {compress} dump of the int64 array (x array)",
                ratio,
                "target",
                0.3,
                "x",
            )
        )
    return rows


def _objects_section(sizes, path, repeat) -> list[Row]:
    import joblet_persist

    rows: list[Row] = []
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
    return rows


def run(quick: bool) -> list[Row]:
    """Every section, or those named in BENCH_PERSIST_SECTIONS (comma-separated)."""
    chosen = os.environ.get("BENCH_PERSIST_SECTIONS", ",".join(SECTIONS)).split(",")
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    sizes = _sizes(quick)
    repeat = sizes["repeat"]
    rows: list[Row] = []
    folder = tempfile.mkdtemp(prefix="bench-persist-", dir=os.environ.get("BENCH_TMP"))
    path = lambda name: os.path.join(folder, name)  # noqa: E731
    try:
        for section in SECTIONS:
            if section in chosen:
                rounds = (
                    sizes["repeat_array"] if section in ("array", "checks") else repeat
                )
                rows += globals()[f"_{section}_section"](sizes, path, rounds)
                gc.collect()
    finally:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)
    print(f"load average at end: {os.getloadavg()[0]:.2f} (other work on the 2 CPUs)")
    return rows


if __name__ == "__main__":
    main(run)
