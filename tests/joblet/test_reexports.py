"""The meta-package re-exports each distribution's public API unchanged."""

import importlib

import pytest

import joblet

LAYERS = ("joblet_hash", "joblet_persist", "joblet_memory", "joblet_parallel")

# Top-level names of joblib 1.6 that joblet leaves out on purpose, and why.
DELIBERATE_ABSENCES: dict[str, str] = {}


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


def test_logger_module_has_joblib_names_and_output():
    joblib = pytest.importorskip("joblib")
    import joblet.logger as imported
    from joblet import logger

    assert imported is logger
    assert logger.short_format_time is joblet.logger.short_format_time
    for seconds in (0.0, 4.25, 59.9, 61.0, 3600.0):
        assert logger.short_format_time(seconds) == joblib.logger.short_format_time(
            seconds
        )
        assert logger.format_time(seconds) == joblib.logger.format_time(seconds)
    assert logger.pformat({"a": [1, 2]}) == joblib.logger.pformat({"a": [1, 2]})
    assert joblet.Logger is logger.Logger
    assert joblet.PrintTime is logger.PrintTime


def test_print_time_prints_elapsed_and_logs_to_a_file(tmp_path, capsys):
    log = tmp_path / "logs" / "run.log"
    print_time = joblet.PrintTime(logfile=str(log))
    print_time("step one")
    print_time("all", total=True)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("step one: ")
    assert err[0].endswith("min")
    assert err[1].startswith("all: ")
    text = log.read_text()
    assert "step one: " in text
    assert "all: " in text
    joblet.PrintTime(logfile=str(log))  # a second log rotates the first
    assert "step one" in (tmp_path / "logs" / "run.log.1").read_text()
    with pytest.raises(ValueError, match="both logfile and logdir"):
        joblet.PrintTime(logfile=str(log), logdir=str(tmp_path))


def test_logger_logs_tagged_with_its_repr(caplog):
    class Fitter(joblet.Logger):
        def __repr__(self):
            return "Fitter"

    with caplog.at_level("DEBUG", logger="joblet"):
        Fitter().warn("careful")
        Fitter().debug("details")
    assert [r.getMessage() for r in caplog.records] == [
        "[Fitter]: careful",
        "[Fitter]: details",
    ]
    assert Fitter(depth=2).format([[1, [2]]]) == "[[1, [...]]]"


def test_get_active_backend_is_what_parallel_runs_on():
    with joblet.parallel_config(backend="threading", n_jobs=3):
        backend, n_jobs = joblet.get_active_backend()
        parallel = joblet.Parallel()
        parallel(joblet.delayed(abs)(-i) for i in range(4))
        assert n_jobs == 3
        assert backend.parallel is parallel  # the very instance, not a copy
    backend, n_jobs = joblet.get_active_backend()
    assert type(backend).__name__ == "ProcessBackend"
    assert n_jobs is None
    backend, _ = joblet.get_active_backend(require="sharedmem")
    assert backend.supports_sharedmem
