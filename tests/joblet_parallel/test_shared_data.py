"""Data shared once: reuse of written arrays across calls, shared arrays, a full
temporary folder."""

from __future__ import annotations

import errno
import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

from joblet_parallel import Parallel, delayed
from joblet_parallel import _tempfolders as tempfolders

np = pytest.importorskip("numpy")

from joblet_parallel import shared_array, shared_empty  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)

LARGE = 300_000  # float64 items: 2.4 MB, above the default max_nbytes


def file_of(array):
    return getattr(array, "filename", None)


def first_and_file(array):
    return float(array[0]), getattr(array, "filename", None)


def write_at(array, i):
    array[i] = i * 10


def written_files(folder: Path) -> list[Path]:
    gc.collect()
    return sorted(folder.glob(f"{tempfolders.FOLDER_PREFIX}*/*"))


@pytest.fixture
def temp_folder(tmp_path):
    folder = tmp_path / "memmaps"
    folder.mkdir()
    return folder


def run_twice(managed, temp_folder, make_tasks, **options):
    """Two calls, in one ``with`` block or on the reused default pool."""
    if managed:
        with Parallel(n_jobs=2, temp_folder=temp_folder, **options) as parallel:
            first = parallel(make_tasks())
            between = written_files(temp_folder)
            second = parallel(make_tasks())
            after = written_files(temp_folder)
    else:
        first = Parallel(n_jobs=2, temp_folder=temp_folder, **options)(make_tasks())
        between = written_files(temp_folder)
        second = Parallel(n_jobs=2, temp_folder=temp_folder, **options)(make_tasks())
        after = written_files(temp_folder)
    return first, second, between, after


# --- reuse across calls ----------------------------------------------------------------


@pytest.mark.parametrize("managed", [True, False], ids=["with-block", "default-pool"])
@pytest.mark.parametrize("mmap_mode", ["r", "c"])
def test_an_array_written_for_one_call_is_not_written_again(
    managed, mmap_mode, temp_folder
):
    data = np.arange(float(LARGE))

    def tasks():
        return (delayed(first_and_file)(data) for _ in range(4))

    first, second, between, after = run_twice(
        managed, temp_folder, tasks, mmap_mode=mmap_mode
    )
    [written] = between
    assert after == [written]
    assert {name for _, name in first} == {name for _, name in second} == {str(written)}


@pytest.mark.parametrize("managed", [True, False], ids=["with-block", "default-pool"])
def test_an_array_changed_in_place_is_written_again(managed, temp_folder):
    data = np.arange(float(LARGE))
    values = iter([0.0, 7.0])

    def tasks():
        data[0] = next(values)
        return (delayed(first_and_file)(data) for _ in range(4))

    first, second, between, after = run_twice(managed, temp_folder, tasks)
    assert {value for value, _ in first} == {0.0}
    assert {value for value, _ in second} == {7.0}  # never the stale file
    [old], [new] = between, after  # the stale file is gone
    assert old != new


def test_files_opened_r_plus_are_never_reused(temp_folder):
    # Workers may write into 'r+' files: a later call must see the caller's data.
    data = np.zeros(LARGE)
    with Parallel(n_jobs=2, temp_folder=temp_folder, mmap_mode="r+") as parallel:
        parallel(delayed(write_at)(data, i) for i in range(1, 3))
        [(value, _)] = parallel(delayed(first_and_file)(data[1:]) for _ in range(1))
    assert value == 0.0


def test_a_freed_array_takes_its_file_with_it(temp_folder):
    data = np.ones(LARGE)
    Parallel(n_jobs=2, temp_folder=temp_folder)(
        delayed(file_of)(data) for _ in range(2)
    )
    assert len(written_files(temp_folder)) == 1
    del data
    assert written_files(temp_folder) == []
    assert list(temp_folder.iterdir()) == []  # the empty folder went too


def test_the_end_of_the_pool_removes_its_files(temp_folder):
    from joblet_parallel._executor import shutdown_pool

    data = np.ones(LARGE)
    Parallel(n_jobs=2, temp_folder=temp_folder)(
        delayed(file_of)(data) for _ in range(2)
    )
    assert len(written_files(temp_folder)) == 1
    shutdown_pool()
    assert written_files(temp_folder) == []


def test_many_views_of_one_array_each_reach_the_right_bytes(temp_folder):
    data = np.arange(float(4 * LARGE)).reshape(4, LARGE)
    rows = Parallel(n_jobs=2, temp_folder=temp_folder)(
        delayed(first_and_file)(data[i, ::-1]) for i in range(4)
    )
    assert [value for value, _ in rows] == [float(data[i, -1]) for i in range(4)]


# --- shared arrays -----------------------------------------------------------------------


def test_workers_map_a_shared_array_instead_of_copying_it(temp_folder):
    data = shared_array(np.arange(10.0))  # far below max_nbytes, still shared
    results = Parallel(n_jobs=2, temp_folder=temp_folder)(
        delayed(first_and_file)(data[i:]) for i in range(3)
    )
    assert results == [(float(i), data.filename) for i in range(3)]
    assert written_files(temp_folder) == []  # nothing was written for the call


@pytest.mark.parametrize("backend", ["loky", "multiprocessing"])
def test_workers_write_into_a_writable_shared_array(backend):
    output = shared_empty((8,), dtype=np.int64, writable=True)
    Parallel(n_jobs=2, backend=backend)(delayed(write_at)(output, i) for i in range(8))
    assert output.tolist() == [i * 10 for i in range(8)]


def test_a_read_only_shared_array_says_how_to_make_it_writable():
    data = shared_empty(4)
    with pytest.raises(ValueError, match="read-only") as info:
        Parallel(n_jobs=2)(delayed(write_at)(data, i) for i in range(2))
    assert "writable=True" in str(info.value)
    assert "max_nbytes" not in str(info.value)


def test_shared_arrays_keep_values_dtype_and_memory_order():
    source = np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4))
    copy = shared_array(source)
    assert copy.dtype == source.dtype
    assert copy.flags.f_contiguous
    assert np.array_equal(copy, source)
    assert shared_empty((2, 0)).shape == (2, 0)


def test_shared_arrays_refuse_python_objects():
    with pytest.raises(TypeError, match="Python objects"):
        shared_empty(3, dtype=object)


LAST_REFERENCE = """
import gc, os
from joblet_parallel import shared_empty

data = shared_empty(1000)
path = data.filename
view = data[10:20]
del data
gc.collect()
print(os.path.exists(path))  # the view still uses the mapping
del view
print(os.path.exists(path), os.path.exists(os.path.dirname(path)))
"""


def test_the_file_goes_with_the_last_reference():
    # In a fresh interpreter: the folder goes with the process's last shared
    # array, and here an earlier test's array may still be held for a moment
    # by a pool thread finishing an aborted call (which made this test flaky).
    out = subprocess.run(
        [sys.executable, "-c", LAST_REFERENCE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    view_keeps_it, file_left, folder_left = out.stdout.split()
    assert view_keeps_it == "True"
    assert (file_left, folder_left) == ("False", "False")  # no collection needed


KILLED_WORKER = """
import gc, os, signal, time
import numpy as np
from joblet_parallel import Parallel, TerminatedWorkerError, delayed, shared_array

def kill_myself(array):
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    data = shared_array(np.arange(100.0))
    path = data.filename
    try:
        Parallel(n_jobs=2)(delayed(kill_myself)(data) for _ in range(2))
    except TerminatedWorkerError:
        print("terminated")
    print(data.sum(), os.path.exists(path))
    # The pool keeps the batch of the worker it lost until it shuts down.
    from joblet_parallel._executor import shutdown_pool

    shutdown_pool()
    del data
    for _ in range(100):  # the pool's threads let go of it as they exit
        gc.collect()
        if not os.path.exists(path):
            break
        time.sleep(0.05)
    print(os.path.exists(path))
"""


def test_a_killed_worker_leaves_the_shared_array_usable_then_freed():
    # In a child interpreter, as a program would run it: by-value pickling of
    # this test module's functions keeps task arguments alive longer.
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["terminated", "4950.0", "True", "False"]


SHARED_THEN_SLEEP = """
import sys, time
import numpy as np
from joblet_parallel import Parallel, TerminatedWorkerError, delayed, shared_array

def slow(array):
    time.sleep(30)

if __name__ == "__main__":
    data = shared_array(np.arange(1000.0))
    print(data.filename, flush=True)
    Parallel(n_jobs=2)(delayed(slow)(data) for _ in range(4))
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_nothing_left_after_ctrl_c_or_a_kill(signum):
    child = subprocess.Popen(
        [sys.executable, "-c", SHARED_THEN_SLEEP],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    path = Path(child.stdout.readline().strip())
    assert path.exists()
    time.sleep(1.0)  # the tasks are running
    child.send_signal(signum)
    child.communicate(timeout=30)
    if signum == signal.SIGKILL:  # no exit handler ran: the next process sweeps
        assert path.exists()
        subprocess.run(
            [sys.executable, "-c", "import joblet_parallel as j; j.shared_empty(1)"],
            check=True,
        )
    assert not path.exists()
    assert not path.parent.exists()


# --- a full temporary folder -------------------------------------------------------------


def assert_says_the_folder_is_full(error, folder):
    message = str(error)
    assert "is full" in message
    assert str(folder) in message
    assert "temp_folder=" in message
    assert "max_nbytes=None" in message
    assert "picklable" not in message


def test_a_full_temp_folder_is_named_with_the_fix(temp_folder, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tempfolders, "os_write", full)
    with pytest.raises(tempfolders.TempFolderFullError) as info:
        Parallel(n_jobs=2, temp_folder=temp_folder)(
            delayed(file_of)(np.ones(LARGE)) for _ in range(2)
        )
    assert_says_the_folder_is_full(info.value, temp_folder)
    assert info.value.errno == errno.ENOSPC
    assert written_files(temp_folder) == []  # the partial file was removed


def test_a_really_full_filesystem_is_reported_the_same(tiny_filesystem):
    with pytest.raises(tempfolders.TempFolderFullError) as info:
        Parallel(n_jobs=2, temp_folder=tiny_filesystem)(
            delayed(file_of)(np.ones(LARGE)) for _ in range(2)
        )
    assert_says_the_folder_is_full(info.value, tiny_filesystem)
