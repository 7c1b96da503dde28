"""parse_size and MMAP_MODES: the shared facts other packages import."""

from __future__ import annotations

import pytest

import joblet_persist
from joblet_persist import MMAP_MODES, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0),
        (1000, 1000),
        (1e6, 1_000_000),
        ("1000", 1000),
        ("1000B", 1000),
        ("10k", 10 * 1024),
        ("10K", 10 * 1024),
        ("10KB", 10 * 1024),
        ("10KiB", 10 * 1024),
        ("500M", 500 * 1024**2),
        ("1.5G", int(1.5 * 1024**3)),
        ("1G", 1024**3),
        ("1GiB", 1024**3),
        (" 2 gb ", 2 * 1024**3),
        ("1T", 1024**4),
    ],
)
def test_parse_size_accepts_the_documented_grammar(text, expected):
    assert parse_size(text) == expected


def test_parse_size_matches_joblib_units():
    joblib_disk = pytest.importorskip("joblib.disk")
    for text in ["10K", "500M", "1G", "1.5G"]:
        assert parse_size(text) == joblib_disk.memstr_to_bytes(text)


@pytest.mark.parametrize("bad", ["", "G", "1X", "1.2.3", "-1", "1 G B", True, -5, [1]])
def test_parse_size_refuses_other_values_naming_the_parameter(bad):
    with pytest.raises(ValueError, match="max_nbytes"):
        parse_size(bad, "max_nbytes")


def test_parse_size_passes_none_through():
    assert parse_size(None) is None


def test_mmap_modes_are_numpys_and_load_checks_them(tmp_path):
    assert MMAP_MODES == (None, "r", "r+", "w+", "c")
    path = tmp_path / "x.pkl"
    joblet_persist.dump([1], path)
    with pytest.raises(ValueError, match="mmap_mode"):
        joblet_persist.load(path, mmap_mode="rw")
