"""The meta-package re-exports each distribution's public API unchanged."""

import importlib

import pytest

import joblet

LAYERS = ("joblet_hash", "joblet_persist", "joblet_memory", "joblet_parallel")

# Top-level names of joblib 1.6 that joblet leaves out on purpose, and why.
DELIBERATE_ABSENCES = {
    "Logger": "joblib's internal logging helper, not part of the workflow API",
    "PrintTime": "joblib's internal timing printer, not part of the workflow API",
}


@pytest.mark.parametrize("name", [n for n in joblet.__all__ if n != "__version__"])
def test_each_reexport_is_the_object_of_its_home_package(name):
    homes = [
        module
        for module in map(importlib.import_module, LAYERS)
        if name in getattr(module, "__all__", ())
    ]
    assert len(homes) == 1, f"{name} should have exactly one home, found {homes}"
    assert getattr(joblet, name) is getattr(homes[0], name)


def test_shared_arrays_are_reexported():
    import joblet_parallel

    assert joblet.shared_empty is joblet_parallel.shared_empty
    assert joblet.shared_array is joblet_parallel.shared_array


def test_everything_in_all_is_importable():
    for name in joblet.__all__:
        assert hasattr(joblet, name), name


def test_import_joblet_does_not_load_heavy_optional_modules():
    import subprocess
    import sys

    code = "import sys, joblet; print(sorted(m for m in ('numpy', 'dask', 'distributed', 'lz4') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_every_public_name_of_joblib_exists_in_joblet():
    joblib = pytest.importorskip("joblib")
    missing = sorted(
        set(joblib.__all__) - set(joblet.__all__) - set(DELIBERATE_ABSENCES)
    )
    assert missing == [], f"joblib names with no joblet counterpart: {missing}"
    for name in set(joblib.__all__) - set(DELIBERATE_ABSENCES):
        assert hasattr(joblet, name), name
