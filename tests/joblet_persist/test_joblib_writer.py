"""``dump(..., format='joblib')``: files that joblib itself loads (joblib 1.6 here)."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import warnings

import pytest

np = pytest.importorskip("numpy")
joblib = pytest.importorskip("joblib")

from joblet_persist import dump, load  # noqa: E402

COMPRESSORS = [0, 3, "zlib", "gzip", "bz2", "lzma", "xz", "lz4", ("gzip", 1), ("xz", 9)]
MAGIC = {
    "zlib": b"x", "gzip": b"\x1f\x8b", "bz2": b"BZh", "lzma": b"]\x00\x00",
    "xz": b"\xfd7zXZ", "lz4": b"\x04\x22\x4d\x18",
}  # fmt: skip


# joblib.load of an lz4 file (joblib's own ones too) leaves a BufferedReader
# that Python 3.13 closes at garbage collection, with an "exception ignored"
JOBLIB_LZ4_ON_313 = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning"
)


def _value():
    grid = np.arange(60, dtype="<f8").reshape(6, 10)
    return {
        "floats": grid,
        "fortran": np.asfortranarray(grid),
        "strided": grid[::2, 1::3],
        "scalar_array": np.array(7, dtype="i2"),
        "empty": np.zeros((0, 3), dtype="u1"),
        "big_endian": np.arange(5, dtype=">i4"),
        "record": np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "<i4"), ("b", "<f8")]),
        "strings": np.array(["joblet", "joblib"]),
        "objects": np.array([1, "two", None, [3]], dtype=object),
        "nested": [np.arange(3), {"inner": np.ones(2, dtype=np.float32)}],
        "same_array_twice": (grid, grid),
        "plain": {"text": "héllo", "numbers": [1, 2.5, 3j], "none": None},
    }


def _check(loaded, expected, native=False):
    """``native``: joblib.load may give non-native byte orders as native arrays."""
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        got = loaded[key]
        if isinstance(value, np.ndarray):
            assert type(got) in (np.ndarray, np.memmap), key
            allowed = (
                (value.dtype, value.dtype.newbyteorder("="))
                if native
                else (value.dtype,)
            )
            assert got.dtype in allowed, key
            assert got.shape == value.shape, key
            assert got.tolist() == value.tolist(), key
    assert loaded["nested"][1]["inner"].dtype == np.float32
    assert loaded["fortran"].flags.f_contiguous
    assert loaded["plain"] == expected["plain"]


def _name(compress):
    return compress[0] if isinstance(compress, tuple) else compress


@JOBLIB_LZ4_ON_313
@pytest.mark.parametrize("compress", COMPRESSORS, ids=repr)
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_joblib_loads_it(tmp_path, compress, protocol):
    path = tmp_path / "model.pkl"
    assert dump(
        _value(), path, compress=compress, protocol=protocol, format="joblib"
    ) == [str(path)]
    name = _name(compress)
    if name in MAGIC:
        assert path.read_bytes().startswith(MAGIC[name])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check(joblib.load(path), _value(), native=True)
    _check(load(path), _value(), native=True)  # joblet reads it back too
    _check(load(path, allowed_globals=[]), _value(), native=True)
    _check(load(path, ensure_native_byte_order=False), _value())


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_joblib_memory_maps_it_aligned(tmp_path, protocol):
    path = tmp_path / "model.pkl"
    dump(_value(), path, protocol=protocol, format="joblib")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # joblib warns about unaligned arrays
        loaded = joblib.load(path, mmap_mode="r")
    _check(loaded, _value(), native=True)
    for key in ("floats", "fortran", "record"):
        assert isinstance(loaded[key], np.memmap), key
        assert loaded[key].ctypes.data % 16 == 0, key
    assert not isinstance(loaded["objects"], np.memmap)
    assert isinstance(load(path, mmap_mode="r")["floats"], np.memmap)


def test_file_objects_and_extensions(tmp_path):
    sink = io.BytesIO()
    assert dump(_value(), sink, format="joblib") is None
    _check(joblib.load(io.BytesIO(sink.getvalue())), _value(), native=True)
    dump(
        _value(), tmp_path / "model.pkl.gz", format="joblib"
    )  # the extension picks gzip
    _check(joblib.load(tmp_path / "model.pkl.gz"), _value(), native=True)
    with gzip.open(tmp_path / "model.pkl.gz") as stream:  # one standard gzip stream
        assert stream.read(2) == b"\x80\x05"


@JOBLIB_LZ4_ON_313
def test_written_without_importing_joblib(tmp_path):
    code = (
        "import sys; sys.modules['joblib'] = None\n"  # any import of joblib fails
        "import numpy, joblet_persist\n"
        f"joblet_persist.dump({{'a': numpy.arange(4)}}, {str(tmp_path / 'x.pkl')!r}, "
        "compress='lz4', format='joblib')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert joblib.load(tmp_path / "x.pkl")["a"].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "pickle"}, r"invalid format 'pickle'.*'joblet'.*'joblib'"),
        ({"format": "joblib", "compress": "zstd"}, r"joblib reads only zlib, gzip"),
    ],
)
def test_bad_format_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        dump([1], tmp_path / "x.pkl", **kwargs)
    assert not (tmp_path / "x.pkl").exists()
