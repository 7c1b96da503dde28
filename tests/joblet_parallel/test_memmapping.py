"""Large numpy arguments shared with process workers as memory maps (joblib 0.13's documentation, section 2.4.6)."""

from __future__ import annotations

import gc
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cloudpickle
import pytest

from joblet_parallel import Parallel, delayed
from joblet_parallel import _memmapping as memmapping
from joblet_parallel import _tempfolders as tempfolders

np = pytest.importorskip("numpy")
joblet_persist = pytest.importorskip("joblet_persist")

# Worker processes cannot import this test module by name: ship it by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(90)

PROCESS_BACKENDS = ["loky", "multiprocessing"]


def is_memmap(obj):
    return isinstance(obj, np.memmap)


def memmap_file(obj):
    return getattr(obj, "filename", None)


def folder_and_file_modes(obj):
    path = Path(obj.filename)
    return stat.S_IMODE(path.parent.stat().st_mode), stat.S_IMODE(path.stat().st_mode)


def total(array):
    return float(np.asarray(array).sum())


def write_square(output, i):
    output[i] = i * i


def modify_first(array):
    array[0] = 42.0
    return float(array[0])


def sleep_then_sum(array, seconds):
    time.sleep(seconds)
    return float(array.sum())


def fail_with(array):
    raise RuntimeError(f"failing with an array of {array.size} items")


@pytest.fixture
def temp_folder(tmp_path):
    folder = tmp_path / "memmaps"
    folder.mkdir()
    return folder


def leftovers(folder: Path) -> list[Path]:
    """Our folders under ``folder``, once arrays no longer referenced are freed.

    Outside a ``with`` block, files live as long as the pool or their array;
    a call's internals may hold its arguments in reference cycles until a
    collection.
    """
    gc.collect()
    return sorted(folder.glob(f"{tempfolders.FOLDER_PREFIX}*"))


# --- joblib 0.13's examples ----------------------------------------------------------


@pytest.mark.parametrize("backend", PROCESS_BACKENDS)
def test_automatic_conversion_above_max_nbytes(backend, temp_folder):
    result = Parallel(
        n_jobs=2, backend=backend, max_nbytes=1e6, temp_folder=temp_folder
    )(delayed(is_memmap)(np.ones(int(i))) for i in [1e2, 1e4, 1e6])
    assert result == [False, False, True]
    assert leftovers(temp_folder) == []


def test_max_nbytes_none_disables_dumping(temp_folder):
    result = Parallel(n_jobs=2, max_nbytes=None, temp_folder=temp_folder)(
        delayed(is_memmap)(np.ones(int(1e6))) for _ in range(2)
    )
    assert result == [False, False]


@pytest.mark.parametrize("backend", PROCESS_BACKENDS)
def test_existing_memmaps_and_their_views_travel_as_references(backend, tmp_path):
    large_array = np.ones(int(1e6))
    filename = tmp_path / "joblib_test.mmap"
    joblet_persist.dump(large_array, filename)
    large_memmap = joblet_persist.load(filename, mmap_mode="r+")
    small_memmap = large_memmap[2:5]
    small_array = np.asarray(small_memmap)
    assert small_array.__class__.__name__ == "ndarray"
    result = Parallel(n_jobs=2, backend=backend, max_nbytes=None)(
        delayed(is_memmap)(a) for a in [large_memmap, small_memmap, small_array]
    )
    assert result == [True, True, True]


@pytest.mark.parametrize(
    "view",
    [
        pytest.param(lambda m: m[3:17], id="slice"),
        pytest.param(lambda m: m[::3, 1], id="strided-column"),
        pytest.param(lambda m: m[::-2], id="reversed"),
        pytest.param(lambda m: m.T, id="transposed"),
    ],
)
def test_views_of_memmaps_are_reopened_with_the_same_values(view, tmp_path):
    data = np.memmap(tmp_path / "data.mmap", dtype="f8", mode="w+", shape=(40, 5))
    data[:] = np.arange(200.0).reshape(40, 5)
    part = view(data)
    [value] = Parallel(n_jobs=2, max_nbytes=None)(
        delayed(total)(part) for _ in range(1)
    )
    assert value == float(np.asarray(part).sum())


@pytest.mark.parametrize("mode", ["w+", "r+"])
def test_workers_write_results_into_writable_memmaps(mode, tmp_path):
    path = tmp_path / "output.mmap"
    output = np.memmap(path, dtype="f8", mode="w+", shape=(20,))
    if mode == "r+":
        output.flush()
        output = np.memmap(path, dtype="f8", mode="r+", shape=(20,))
    Parallel(n_jobs=2)(delayed(write_square)(output, i) for i in range(20))
    assert output.tolist() == [float(i * i) for i in range(20)]


def test_writing_into_a_read_only_memmap_explains_how_to_fix_it(temp_folder):
    with pytest.raises(ValueError, match="read-only") as info:
        Parallel(n_jobs=2, temp_folder=temp_folder)(
            delayed(modify_first)(np.zeros(300_000)) for _ in range(2)
        )
    message = str(info.value)
    assert "max_nbytes=None" in message
    assert "mmap_mode='c'" in message


def test_copy_on_write_lets_workers_modify_their_view_only(temp_folder):
    original = np.zeros(300_000)
    result = Parallel(n_jobs=2, mmap_mode="c", temp_folder=temp_folder)(
        delayed(modify_first)(original) for _ in range(2)
    )
    assert result == [42.0, 42.0]
    assert original[0] == 0.0


# --- dumping once ---------------------------------------------------------------------


def test_same_array_is_dumped_once_per_call(temp_folder):
    shared = np.arange(200_000.0)
    files = Parallel(n_jobs=2, temp_folder=temp_folder, batch_size=1)(
        delayed(memmap_file)(shared) for _ in range(8)
    )
    assert len(set(files)) == 1


def test_with_block_reuses_dumped_arrays_across_calls(temp_folder):
    shared = np.arange(200_000.0)
    with Parallel(n_jobs=2, temp_folder=temp_folder) as parallel:
        first = parallel(delayed(memmap_file)(shared) for _ in range(2))
        second = parallel(delayed(memmap_file)(shared) for _ in range(2))
        assert len(leftovers(temp_folder)) == 1
    assert set(first) == set(second)
    assert len(set(first)) == 1
    assert leftovers(temp_folder) == []


# --- temporary files ---------------------------------------------------------------------


def test_folder_and_files_are_private(temp_folder):
    [(folder_mode, file_mode)] = Parallel(n_jobs=2, temp_folder=temp_folder)(
        delayed(folder_and_file_modes)(np.ones(300_000)) for _ in range(1)
    )
    assert folder_mode == 0o700
    assert file_mode == 0o600


def test_nothing_left_after_an_error(temp_folder):
    with pytest.raises(RuntimeError, match="failing with an array"):
        Parallel(n_jobs=2, temp_folder=temp_folder)(
            delayed(fail_with)(np.ones(300_000)) for _ in range(4)
        )
    assert leftovers(temp_folder) == []


def test_nothing_left_after_ctrl_c_in_a_child_interpreter(temp_folder):
    script = textwrap.dedent(
        f"""
        import numpy as np, time
        from joblet_parallel import Parallel, delayed

        def slow(array):
            time.sleep(30)

        if __name__ == "__main__":
            Parallel(n_jobs=2, temp_folder={str(temp_folder)!r})(
                delayed(slow)(np.ones(300_000)) for _ in range(4)
            )
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not leftovers(temp_folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(temp_folder), "the child never dumped its array"
    time.sleep(0.5)
    child.send_signal(signal.SIGINT)
    child.communicate(timeout=30)
    assert child.returncode != 0
    assert leftovers(temp_folder) == []


def test_folders_of_dead_processes_are_removed(temp_folder):
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(finished.stdout)
    stale = temp_folder / f"{tempfolders.FOLDER_PREFIX}{dead_pid}_0123456789ab"
    stale.mkdir()
    (stale / "orphan.joblet").write_bytes(b"x")
    ours_alive = temp_folder / f"{tempfolders.FOLDER_PREFIX}{os.getpid()}_live"
    ours_alive.mkdir()
    Parallel(n_jobs=2, temp_folder=temp_folder)(
        delayed(total)(np.ones(300_000)) for _ in range(2)
    )
    assert not stale.exists()
    assert ours_alive.exists()


# --- settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, 0),
        (1e6, 1_000_000),
        ("1M", 1024**2),
        ("10M", 10 * 1024**2),
        ("1G", 1024**3),
        ("512k", 512 * 1024),
        ("2048", 2048),
    ],
)
def test_max_nbytes_values(value, expected):
    assert memmapping.parse_max_nbytes(value) == expected


@pytest.mark.parametrize("value", ["lots", "1X", -1, True])
def test_bad_max_nbytes_is_refused_when_parallel_is_built(value):
    with pytest.raises(ValueError, match="max_nbytes"):
        Parallel(n_jobs=2, max_nbytes=value)


def test_bad_mmap_mode_is_refused():
    with pytest.raises(ValueError, match="mmap_mode"):
        Parallel(n_jobs=2, mmap_mode="rw")


def test_temp_folder_choice(tmp_path, monkeypatch):
    monkeypatch.delenv(tempfolders.TEMP_FOLDER_ENV, raising=False)
    assert tempfolders.choose_temp_folder(tmp_path) == tmp_path
    monkeypatch.setenv(tempfolders.TEMP_FOLDER_ENV, str(tmp_path / "env"))
    assert tempfolders.choose_temp_folder(None) == tmp_path / "env"
    monkeypatch.delenv(tempfolders.TEMP_FOLDER_ENV)
    if os.path.isdir(tempfolders.SHARED_MEMORY_FOLDER) and os.access(
        tempfolders.SHARED_MEMORY_FOLDER, os.W_OK
    ):
        expected_shm = Path(tempfolders.SHARED_MEMORY_FOLDER)
        roomy = type("Usage", (), {"free": tempfolders.SHARED_MEMORY_MIN_FREE})
        monkeypatch.setattr("shutil.disk_usage", lambda _: roomy)
        assert tempfolders.choose_temp_folder(None) == expected_shm
    cramped = type("Usage", (), {"free": tempfolders.SHARED_MEMORY_MIN_FREE - 1})
    monkeypatch.setattr("shutil.disk_usage", lambda _: cramped)
    import tempfile

    assert tempfolders.choose_temp_folder(None) == Path(tempfile.gettempdir())


def test_environment_variable_picks_the_folder_of_a_call(tmp_path, monkeypatch):
    monkeypatch.setenv(tempfolders.TEMP_FOLDER_ENV, str(tmp_path))
    [filename] = Parallel(n_jobs=2)(
        delayed(memmap_file)(np.ones(300_000)) for _ in range(1)
    )
    assert Path(filename).parent.parent == tmp_path


def with_byte_order(array):
    return array, array.dtype.byteorder


@pytest.mark.parametrize("byteorder", ["<", ">", "="])
@pytest.mark.parametrize("view", ["whole", "strided"])
def test_a_returned_memmap_keeps_its_byte_order(byteorder, view):
    """The worker's memmap of an argument comes back with the argument's dtype,
    byte order included (numpy's own pickling of a memmap makes it native)."""
    data = np.arange(12).reshape((3, 4)).astype(f"{byteorder}i4")
    if view == "strided":
        data = data[:, ::2]
    results = Parallel(n_jobs=2, backend="loky", max_nbytes=1)(
        delayed(with_byte_order)(data) for _ in range(2)
    )
    for returned, in_worker in results:
        assert is_memmap(returned)
        assert in_worker == data.dtype.byteorder == returned.dtype.byteorder
        np.testing.assert_array_equal(returned, data)
