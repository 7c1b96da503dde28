"""Write the golden files of the joblet-persist 0.1 format (the chunked container).

These files were written by joblet-persist 0.1.0 (format version 1, compressed
files as joblet's own container of compressed chunks) and are committed: later
releases must keep loading them. This script only reproduces them when run with
that release; ``expected_value()`` is imported by the tests.

    python tests/joblet_persist/data/make_v01_files.py
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPRESSORS = ["zlib", "gzip", "bz2", "lzma", "xz", "lz4"]


def expected_value():
    import numpy as np

    return {
        "ints": np.arange(100, dtype=np.int64),
        "fortran": np.asfortranarray(np.linspace(0.0, 1.0, 60).reshape(6, 10)),
        # 1.25 MiB: more than one 1 MiB chunk in the compressed files
        "pattern": np.tile(np.arange(256, dtype=np.uint8), 5120),
        "bytes": bytes(range(256)) * 4,
        "text": "joblet 0.1 é",
        "nested": [{"id": i} for i in range(50)],
    }


def expected_plain_value():
    value = expected_value()
    del value["pattern"]
    return value


def main() -> None:
    import joblet_persist

    value = expected_value()
    small = {key: item for key, item in value.items() if key != "pattern"}
    joblet_persist.dump(small, HERE / "joblet_0.1_plain.joblet")
    for name in COMPRESSORS:
        joblet_persist.dump(value, HERE / f"joblet_0.1_{name}.joblet", compress=name)


if __name__ == "__main__":
    main()
