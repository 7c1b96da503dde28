"""Files written by joblib 1.6: committed golden files and live round-trips."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")

from joblet_persist import load  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
spec = importlib.util.spec_from_file_location(
    "make_joblib_files", DATA / "make_joblib_files.py"
)
make_joblib_files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_joblib_files)
KINDS = ["plain", *make_joblib_files.COMPRESSORS]


def _check(loaded, native=True):
    """``native``: arrays come back in this machine's byte order (the default)."""
    expected = make_joblib_files.expected_value()
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, np.ndarray):
            dtype = value.dtype.newbyteorder("=") if native else value.dtype
            assert loaded[key].dtype in (dtype, value.dtype.newbyteorder("|"))
            assert loaded[key].shape == value.shape
            assert loaded[key].tolist() == value.tolist()
        else:
            assert loaded[key] == value


@pytest.mark.parametrize("kind", KINDS)
def test_golden_files(kind):
    if kind == "lz4":
        pytest.importorskip("lz4")
    loaded = load(DATA / f"joblib_1.6_{kind}.pkl")
    _check(loaded)
    assert loaded["floats_f"].flags.f_contiguous
    _check(load(DATA / f"joblib_1.6_{kind}.pkl", ensure_native_byte_order=False), False)


@pytest.mark.parametrize("kind", KINDS)
def test_golden_files_as_file_objects(kind):
    if kind == "lz4":
        pytest.importorskip("lz4")
    with open(DATA / f"joblib_1.6_{kind}.pkl", "rb") as handle:
        _check(load(handle))


def test_golden_plain_memory_maps():
    loaded = load(DATA / "joblib_1.6_plain.pkl", mmap_mode="r")
    _check(loaded)
    assert isinstance(loaded["ints"], np.memmap)
    assert isinstance(loaded["ints"][10:20], np.memmap)


def test_golden_restricted_load():
    _check(load(DATA / "joblib_1.6_plain.pkl", allowed_globals=()))


@pytest.mark.parametrize(
    "compress", [0, 3, "gzip", "bz2", "xz", "lzma", "lz4"], ids=repr
)
def test_live_joblib_files(tmp_path, compress):
    joblib = pytest.importorskip("joblib")
    if compress == "lz4":
        pytest.importorskip("lz4")
    value = {
        "a": np.arange(1000.0).reshape(10, 100),
        "b": [1, "x"],
        "c": np.arange(3, dtype="u2"),
    }
    joblib.dump(value, tmp_path / "j.pkl", compress=compress)
    loaded = load(tmp_path / "j.pkl", mmap_mode="r" if compress == 0 else None)
    assert np.array_equal(loaded["a"], value["a"])
    assert loaded["b"] == value["b"]
    assert loaded["c"].dtype == np.uint16
