"""The joblib adapter (register_joblib_backend) honours joblib's max_nbytes,
mmap_mode and temp_folder: a task writing into its input array behaves as on
joblib's default backend."""

from __future__ import annotations

import pytest

import joblet_parallel

pytestmark = pytest.mark.timeout(120)

joblib = pytest.importorskip("joblib")
np = pytest.importorskip("numpy")


def write_first(array):
    array[0] = 1.0
    return float(array.sum())


def outcome(backend, **settings):
    data = np.zeros(300_000)  # 2.4 MB: above joblib's 1M max_nbytes
    try:
        with joblib.parallel_config(backend=backend):
            return joblib.Parallel(n_jobs=2, **settings)(
                joblib.delayed(write_first)(data) for _ in range(2)
            )
    except ValueError as error:
        return "read-only" if "read-only" in str(error) else repr(error)


@pytest.mark.parametrize(
    "settings",
    [{}, {"max_nbytes": None}, {"mmap_mode": "c"}, {"mmap_mode": "r+"}],
    ids=str,
)
def test_writing_into_an_input_array_as_on_joblib_default_backend(settings):
    joblet_parallel.register_joblib_backend()
    assert outcome("joblet", **settings) == outcome("loky", **settings)


def test_the_temp_folder_of_joblib_is_used(tmp_path):
    joblet_parallel.register_joblib_backend()
    folder = tmp_path / "maps"
    folder.mkdir()

    with joblib.parallel_config(backend="joblet"):
        paths = joblib.Parallel(n_jobs=2, temp_folder=str(folder))(
            joblib.delayed(mapped_path)(np.zeros(300_000)) for _ in range(2)
        )
    assert all(path.startswith(str(folder)) for path in paths), paths


def mapped_path(array):
    base = array
    while getattr(base, "base", None) is not None and not hasattr(base, "filename"):
        base = base.base
    return str(getattr(base, "filename", ""))
