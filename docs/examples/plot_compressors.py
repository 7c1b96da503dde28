"""
Improving I/O using compressors
===============================

This example compares the compressors of ``joblet.dump``: for each one it
dumps a data set to disk and loads it back, and reports the size of the file,
the time to dump and the time to load. It then plots the figures into a PNG
file.

joblib's gallery example of the same name downloads the KDD Cup 99 network
data set; this one builds a synthetic table shaped like it (500,000 rows:
mostly-zero durations, categorical protocol/service/flag columns, heavy-tailed
byte counts, booleans and rounded rates), so that it runs offline and in a few
seconds. Zlib, LZMA and LZ4 are compared with no compression; gzip, bz2 and
xz work the same way.

The plot needs matplotlib (``nox -s docs`` installs it); without it the
example prints the table only.
"""

import os
import shutil
import tempfile
import time

import numpy as np

from joblet import dump, load

###############################################################################
# Get some data shaped like a real-world use case
# -----------------------------------------------
# A table of network connections, as numpy columns.

rng = np.random.default_rng(0)
n = 500_000
data = {
    "duration": np.where(rng.random(n) < 0.9, 0, rng.integers(1, 60_000, n)),
    "protocol_type": rng.choice(
        np.array([b"tcp", b"udp", b"icmp"]), n, p=[0.6, 0.3, 0.1]
    ),
    "service": rng.choice(
        np.array([b"http", b"smtp", b"ftp_data", b"private", b"ecr_i", b"other"]), n
    ),
    "flag": rng.choice(
        np.array([b"SF", b"S0", b"REJ", b"RSTR"]), n, p=[0.8, 0.1, 0.07, 0.03]
    ),
    "src_bytes": np.round(rng.lognormal(6, 2, n)).astype(np.int64),
    "dst_bytes": np.round(rng.lognormal(7, 2.5, n)).astype(np.int64),
    "land": rng.random(n) < 0.001,
    "wrong_fragment": rng.poisson(0.01, n),
    "hot": rng.poisson(0.2, n),
    "logged_in": rng.random(n) < 0.7,
    "serror_rate": np.round(rng.beta(0.2, 2, n), 2),
    "same_srv_rate": np.round(rng.beta(2, 0.3, n), 2),
}
print(f"Data set: {sum(c.nbytes for c in data.values()) / 1e6:.1f} MB in memory")

folder = tempfile.mkdtemp(prefix="joblet-example-")
pickle_file = os.path.join(folder, "pickle_data.joblet")


def measure(name, compress):
    """Dump and load ``data`` with ``compress``; print and return the figures."""
    start = time.time()
    with open(pickle_file, "wb") as f:
        dump(data, f, compress=compress)
    dump_duration = time.time() - start
    file_size = os.stat(pickle_file).st_size / 1e6

    start = time.time()
    with open(pickle_file, "rb") as f:
        loaded = load(f)
    load_duration = time.time() - start
    assert all(np.array_equal(loaded[key], data[key]) for key in data)

    print(f"{name} dump duration: {dump_duration:.3f}s")
    print(f"{name} file size: {file_size:.3f}MB")
    print(f"{name} load duration: {load_duration:.3f}s")
    return dump_duration, load_duration, file_size


###############################################################################
# Dump and load the data set without compression
# ----------------------------------------------
# This gives reference values for later comparison.

raw_dump_duration, raw_load_duration, raw_file_size = measure("Raw", 0)

###############################################################################
# Dump and load the data set using the Zlib compression method
# ------------------------------------------------------------
# The compression level is the default, 3: in general a good compromise
# between compression and speed.

zlib_dump_duration, zlib_load_duration, zlib_file_size = measure("Zlib", "zlib")

###############################################################################
# The compression format is detected on load from the first bytes of the file,
# never from its name.
#
# Dump and load the data set using the LZMA compression method
# ------------------------------------------------------------
# LZMA compresses best, at the cost of being slow; a light level, 3, speeds up
# the dump a bit.

lzma_dump_duration, lzma_load_duration, lzma_file_size = measure("LZMA", ("lzma", 3))

###############################################################################
# Dump and load the data set using the LZ4 compression method
# -----------------------------------------------------------
# LZ4 is one of the fastest compression methods, with a compression rate a bit
# lower than Zlib's. It needs the ``lz4`` package
# (``pip install 'joblet-persist[lz4]'``; ``pip install joblet`` includes it).

lz4_dump_duration, lz4_load_duration, lz4_file_size = measure("LZ4", "lz4")

###############################################################################
# Comparing the results
# ---------------------

names = ("Raw", "LZ4", "Zlib", "LZMA")
dump_durations = (
    raw_dump_duration,
    lz4_dump_duration,
    zlib_dump_duration,
    lzma_dump_duration,
)
load_durations = (
    raw_load_duration,
    lz4_load_duration,
    zlib_load_duration,
    lzma_load_duration,
)
file_sizes = (raw_file_size, lz4_file_size, zlib_file_size, lzma_file_size)

print("\n{:<6} {:>10} {:>10} {:>12}".format("", "dump (s)", "load (s)", "size (MB)"))
for row in zip(names, dump_durations, load_durations, file_sizes, strict=True):
    print("{:<6} {:>10.3f} {:>10.3f} {:>12.3f}".format(*row))

###############################################################################
# The same figures as bars: durations on the left, file sizes (log scale) on
# the right.

try:
    import matplotlib.pyplot as plt
except ImportError:
    if os.environ.get("JOBLET_GALLERY_REQUIRE_PLOTS"):  # set by `nox -s docs`
        raise
    print("\nmatplotlib is not installed: no plot")
else:
    ind = np.arange(len(names))
    width = 0.5
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    p1 = left.bar(ind, dump_durations, width)
    p2 = left.bar(ind, load_durations, width, bottom=dump_durations)
    left.set_ylabel("Time in seconds")
    left.set_title("Dump and load durations")
    left.set_xticks(ind, names)
    left.legend((p1[0], p2[0]), ("Dump duration", "Load duration"))
    right.bar(ind, file_sizes, width, log=True)
    right.set_ylabel("File size in MB")
    right.set_title("File sizes")
    right.set_xticks(ind, names)
    fig.tight_layout()

###############################################################################
# LZ4 is by far the fastest compressor, for dumping as for loading. LZMA and
# Zlib are slower to dump but quick to load back. Dump and load times also
# depend on the storage: on a fast SSD, LZ4 is slightly slower than a raw dump,
# on a spinning disk or a network filesystem it is usually faster.
#
# Compressed data takes far less space on disk than raw data; LZMA compresses
# best, then Zlib, then LZ4.
#
# Clear the pickle file
# ---------------------

shutil.rmtree(folder)
