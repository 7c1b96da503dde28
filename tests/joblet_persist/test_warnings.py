"""Every warning of joblet-persist points at the user's line that called it.

A hard-coded ``stacklevel`` is right for one call path only; the warnings find
the first frame outside the package instead (``joblet_hash.callers``). One
test per warning and per path that reaches it: a compressed joblet or joblib
file, a version-1 compressed file, a file object, a compressed file object.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import pytest

from joblet_persist import dump, dumps, load

np = pytest.importorskip("numpy")

DATA = Path(__file__).parent / "data"


def _the_warning(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    assert len(caught) == 1, [str(w.message) for w in caught]
    return caught[0]


# one wording for every path that loads in memory despite mmap_mode
NOT_MAPPED = r"^mmap_mode='r' has no effect on .+: it is (compressed \(\w+\)|a file object).*, so its arrays are loaded in memory\. "


def _says_not_mapped(warning, why):
    import re

    text = str(warning.message)
    assert re.match(NOT_MAPPED, text), text
    assert why in text


def _points_here(warning):
    assert os.path.samefile(warning.filename, __file__), (
        f"{warning.message} points at {warning.filename}:{warning.lineno}"
    )


def test_mmap_mode_on_a_compressed_file(tmp_path):
    path = tmp_path / "c.joblet.lz4"
    dump({"a": np.arange(10)}, path, compress="zlib")
    warning = _the_warning(lambda: load(path, mmap_mode="r"))
    _says_not_mapped(warning, "compressed (zlib)")
    _points_here(warning)


@pytest.mark.parametrize(
    "name",
    ["joblet_0.1_zlib.joblet", "joblib_1.6_zlib.pkl"],
    ids=["joblet format version 1", "joblib"],
)
def test_mmap_mode_on_a_compressed_file_of_another_format(name):
    warning = _the_warning(lambda: load(DATA / name, mmap_mode="r"))
    _says_not_mapped(warning, "compressed (zlib)")
    _points_here(warning)


def test_mmap_mode_on_a_file_object(tmp_path):
    path = tmp_path / "p.joblet"
    dump({"a": np.arange(10)}, path)
    with open(path, "rb") as handle:
        warning = _the_warning(lambda: load(handle, mmap_mode="r"))
    _says_not_mapped(warning, "memory mapping needs a path")
    _points_here(warning)


def test_mmap_mode_on_compressed_bytes_in_a_file_object():
    stream = io.BytesIO(dumps({"a": np.arange(10)}, compress="gzip"))
    warning = _the_warning(lambda: load(stream, mmap_mode="r"))
    _says_not_mapped(warning, "memory mapping needs a path")  # the first reason
    _points_here(warning)
