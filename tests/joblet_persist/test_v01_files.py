"""Files written by joblet-persist 0.1 (format version 1) keep loading."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from joblet_persist import load

np = pytest.importorskip("numpy")
DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(DATA))
from make_v01_files import (  # noqa: E402
    COMPRESSORS,
    expected_plain_value,
    expected_value,
)

sys.path.remove(str(DATA))


def assert_same(loaded, expected):
    assert loaded.keys() == expected.keys()
    for key, item in expected.items():
        if isinstance(item, np.ndarray):
            np.testing.assert_array_equal(loaded[key], item)
            assert loaded[key].dtype == item.dtype
            assert loaded[key].flags.f_contiguous == item.flags.f_contiguous
        else:
            assert loaded[key] == item


@pytest.mark.parametrize("name", COMPRESSORS)
def test_v01_compressed_container_loads(name):
    if name == "lz4" and importlib.util.find_spec("lz4") is None:
        pytest.skip("lz4 is not installed")
    path = DATA / f"joblet_0.1_{name}.joblet"
    assert path.read_bytes()[8:10] == b"\x01\x00"  # format version 1
    assert_same(load(path), expected_value())


@pytest.mark.parametrize("mmap_mode", [None, "r"])
def test_v01_plain_file_loads_and_maps(mmap_mode):
    loaded = load(DATA / "joblet_0.1_plain.joblet", mmap_mode=mmap_mode)
    assert_same(loaded, expected_plain_value())
    if mmap_mode:
        assert isinstance(loaded["ints"], np.memmap)
