"""Every warning of the cache points at the user's line, not inside the package."""

from __future__ import annotations

import pathlib
import warnings

import pytest

from joblet_memory import CacheWarning, Memory

THIS_FILE = __file__


def double(x):
    return 2 * x


def line_of(marker: str) -> int:
    """The line of this file holding ``marker`` (in a comment)."""
    lines = pathlib.Path(THIS_FILE).read_text().splitlines()
    return next(n for n, text in enumerate(lines, 1) if text.endswith(f"# {marker}"))


def only_warning(caught: list[warnings.WarningMessage]) -> warnings.WarningMessage:
    assert len(caught) == 1, [str(w.message) for w in caught]
    return caught[0]


def test_a_damaged_entry_warns_at_the_call(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(double)
    cached(1)
    [item] = cached.store_backend.get_items()
    pathlib.Path(item.path, "output.pkl").write_bytes(b"garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cached(1)  # damaged-call
    found = only_warning(caught)
    assert issubclass(found.category, CacheWarning)
    assert (found.filename, found.lineno) == (THIS_FILE, line_of("damaged-call"))


def test_an_unwritable_store_warns_at_the_call(tmp_path, monkeypatch):
    cached = Memory(tmp_path, verbose=0).cache(double)

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cached.store_backend, "dump_item", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cached(2) == 4  # full-call
    found = only_warning(caught)
    assert (found.filename, found.lineno) == (THIS_FILE, line_of("full-call"))


def test_compress_with_mmap_warns_at_the_constructor(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Memory(tmp_path, compress=3, mmap_mode="r", verbose=0)  # constructor
    found = only_warning(caught)
    assert (found.filename, found.lineno) == (THIS_FILE, line_of("constructor"))


@pytest.mark.parametrize("form", ["call", "eval"])
def test_the_line_is_the_callers_whatever_the_form(tmp_path, form):
    memory = Memory(tmp_path, verbose=0)
    cached = memory.cache(double)
    cached(3)
    [item] = cached.store_backend.get_items()
    pathlib.Path(item.path, "output.pkl").write_bytes(b"garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if form == "call":
            cached(3)  # form-call
        else:
            memory.eval(double, 3)  # form-eval
    found = only_warning(caught)
    assert (found.filename, found.lineno) == (THIS_FILE, line_of(f"form-{form}"))
