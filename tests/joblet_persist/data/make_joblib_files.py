"""Write the golden joblib files that tests/joblet_persist reads.

Run from the repository root with joblib 1.6 and numpy installed:

    python tests/joblet_persist/data/make_joblib_files.py

The files are committed; rerun only to add cases. ``expected_value()`` is also
imported by the tests to compare what they load.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPRESSORS = ["zlib", "gzip", "bz2", "lzma", "xz", "lz4"]


def expected_value():
    import numpy as np

    return {
        "ints": np.arange(100, dtype=np.int64),
        "floats_f": np.asfortranarray(np.linspace(0.0, 1.0, 60).reshape(6, 10)),
        "big_endian": np.arange(7, dtype=">i4"),
        "structured": np.array(
            [(1, 2.5), (3, 4.5)], dtype=[("a", "<i2"), ("b", "<f8")]
        ),
        "objects": np.array([1, "two", None, (3,)], dtype=object),
        "empty": np.zeros((0, 3)),
        "scalar": np.float32(1.5),
        "text": "joblib golden file",
        "nested": [1, 2.0, {"k": (None, True)}],
    }


def main() -> None:
    import joblib

    value = expected_value()
    joblib.dump(value, HERE / "joblib_1.6_plain.pkl")
    for name in COMPRESSORS:
        joblib.dump(value, HERE / f"joblib_1.6_{name}.pkl", compress=(name, 3))
    print(
        "joblib",
        joblib.__version__,
        "wrote",
        sorted(p.name for p in HERE.glob("*.pkl")),
    )


if __name__ == "__main__":
    main()
