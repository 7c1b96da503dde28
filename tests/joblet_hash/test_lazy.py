"""joblet_hash.lazy: package names imported on first use."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from joblet_hash.lazy import lazy_attributes


@pytest.fixture
def package(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("lazy_demo")
    monkeypatch.setitem(sys.modules, "lazy_demo", module)
    module.__getattr__ = lazy_attributes(  # type: ignore[method-assign]
        "lazy_demo", {"dedent": "textwrap", "Fraction": "fractions"}
    )
    return module


def test_a_name_is_imported_from_its_home_and_kept(package: types.ModuleType) -> None:
    import textwrap

    assert "dedent" not in vars(package)
    assert package.dedent is textwrap.dedent
    assert vars(package)["dedent"] is textwrap.dedent  # the next read is plain


def test_an_unknown_name_is_an_attribute_error_naming_the_package(
    package: types.ModuleType,
) -> None:
    with pytest.raises(AttributeError, match="'lazy_demo' has no attribute 'nope'"):
        package.nope  # noqa: B018
    assert not hasattr(package, "nope")


def test_hash_is_imported_only_when_used() -> None:
    # (joblet_persist's inspect_file: tests/joblet_persist/test_roundtrip.py)
    code = (
        "import sys, joblet_hash\n"
        "print('joblet_hash._hash' in sys.modules)\n"
        "joblet_hash.hash\n"
        "print('joblet_hash._hash' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]
