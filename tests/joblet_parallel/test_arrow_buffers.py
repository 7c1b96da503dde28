"""Arrow data and other protocol-5 buffers above max_nbytes travel as memory maps."""

from __future__ import annotations

import gc
import pickle
import sys
from pathlib import Path

import cloudpickle
import pytest

from joblet_parallel import Parallel, delayed
from joblet_parallel import _tempfolders as tempfolders

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)

ROWS = 400_000  # 3.2 MB per int64 column: above the default max_nbytes
LARGE = 1024**2


def arrow_buffers(obj):
    """The pyarrow buffers behind a Table, RecordBatch, ChunkedArray or DataFrame."""
    if isinstance(obj, pd.DataFrame):
        arrays = [obj[name].array._pa_array for name in obj.columns]
    elif isinstance(obj, pa.ChunkedArray):
        arrays = [obj]
    else:
        arrays = list(obj.columns)
    chunks = []
    for array in arrays:
        chunks += array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    return [buffer for chunk in chunks for buffer in chunk.buffers() if buffer]


def mapped_ranges(folder):
    """Address ranges of this process mapped from files under ``folder``."""
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith(str(folder)):
                low, high = (int(part, 16) for part in fields[0].split("-"))
                ranges.append((low, high))
    return ranges


def large_buffers_are_mapped(obj, folder):
    ranges = mapped_ranges(folder)
    large = [buffer for buffer in arrow_buffers(obj) if buffer.size >= LARGE]
    mapped = all(
        any(low <= buffer.address < high for low, high in ranges) for buffer in large
    )
    return len(large), mapped, obj


def sample_table():
    return pa.table(
        {
            "numbers": pa.array(np.arange(ROWS, dtype=np.int64)),
            "words": pa.array([f"word {i}" for i in range(ROWS)]),
        }
    )


def sample(kind):
    table = sample_table()
    if kind == "table":
        return table
    if kind == "record-batch":
        return table.combine_chunks().to_batches()[0]
    if kind == "chunked-array":
        return table.column("words")
    if kind == "arrow-dataframe":
        return table.to_pandas(types_mapper=pd.ArrowDtype)
    if kind == "string-dataframe":
        return pd.DataFrame(
            {"words": pd.array(table.column("words"), dtype=pd.StringDtype("pyarrow"))}
        )
    raise AssertionError(kind)


def assert_equal(left, right):
    if isinstance(left, pd.DataFrame):
        pd.testing.assert_frame_equal(left, right)
    else:
        assert left.equals(right)


@pytest.fixture
def temp_folder(tmp_path):
    folder = tmp_path / "memmaps"
    folder.mkdir()
    return folder


def written_files(folder: Path) -> list[Path]:
    gc.collect()
    return sorted(folder.glob(f"{tempfolders.FOLDER_PREFIX}*/*"))


KINDS = [
    "table",
    "record-batch",
    "chunked-array",
    "arrow-dataframe",
    "string-dataframe",
]


@pytest.mark.parametrize("kind", KINDS)
def test_arrow_data_round_trips_and_arrives_memory_mapped(kind, temp_folder):
    data = sample(kind)
    results = Parallel(n_jobs=2, temp_folder=temp_folder)(
        delayed(large_buffers_are_mapped)(data, temp_folder) for _ in range(3)
    )
    for n_large, mapped, back in results:
        assert n_large >= 1
        assert mapped
        assert_equal(back, data)


def test_a_table_is_written_once_per_call_and_reused_by_the_next(temp_folder):
    table = sample_table()
    n_large = sum(buffer.size >= LARGE for buffer in arrow_buffers(table))
    with Parallel(n_jobs=2, temp_folder=temp_folder) as parallel:
        parallel(
            delayed(large_buffers_are_mapped)(table, temp_folder) for _ in range(4)
        )
        first = written_files(temp_folder)
        parallel(
            delayed(large_buffers_are_mapped)(table, temp_folder) for _ in range(4)
        )
        assert written_files(temp_folder) == first
    assert len(first) == n_large
    assert written_files(temp_folder) == []


def test_small_arrow_data_is_pickled_as_usual(temp_folder):
    table = pa.table({"numbers": [1, 2, 3]})
    [(n_large, _, back)] = Parallel(n_jobs=2, temp_folder=temp_folder)(
        delayed(large_buffers_are_mapped)(table, temp_folder) for _ in range(1)
    )
    assert n_large == 0
    assert back.equals(table)
    assert written_files(temp_folder) == []


class Blob:
    """Any object handing out a protocol-5 buffer."""

    def __init__(self, data):
        self.data = data

    def __reduce_ex__(self, protocol):
        return type(self), (pickle.PickleBuffer(self.data),)


def describe_blob(blob, folder):
    view = memoryview(blob.data)
    address = np.frombuffer(view, np.uint8).__array_interface__["data"][0]
    mapped = any(low <= address < high for low, high in mapped_ranges(folder))
    return mapped, bytes(view[:4]), view.nbytes


def test_any_object_with_protocol_5_buffers_gets_them_mapped(temp_folder):
    blob = Blob(bytearray(b"abcd" * LARGE))
    [result] = Parallel(n_jobs=2, temp_folder=temp_folder)(
        delayed(describe_blob)(blob, temp_folder) for _ in range(1)
    )
    assert result == (True, b"abcd", 4 * LARGE)


def test_max_nbytes_none_sends_arrow_data_by_value(temp_folder):
    table = sample_table()
    [(n_large, mapped, back)] = Parallel(
        n_jobs=2, temp_folder=temp_folder, max_nbytes=None
    )(delayed(large_buffers_are_mapped)(table, temp_folder) for _ in range(1))
    assert n_large >= 1
    assert not mapped
    assert back.equals(table)


def count_fingerprints(monkeypatch):
    import joblet_parallel._memmapping as memmapping

    seen: list[int] = []
    original = memmapping.fingerprint

    def counting(data):
        seen.append(1)
        return original(data)

    monkeypatch.setattr(memmapping, "fingerprint", counting)
    return seen


def noop(_):
    return None


@pytest.mark.parametrize("kind", ["arrow-dataframe", "string-dataframe"])
def test_an_arrow_backed_frame_is_sent_as_a_table_is(kind, temp_folder, monkeypatch):
    # pandas copies an Arrow column each time it pickles it: each batch would
    # bring new buffers to hash and match. Sent as a table, each buffer is
    # looked at once per call, whatever the number of batches.
    table, frame = sample_table(), sample(kind)
    seen = count_fingerprints(monkeypatch)
    Parallel(n_jobs=2, batch_size=1, temp_folder=temp_folder)(
        delayed(noop)(table.select(frame.columns.tolist())) for _ in range(1)
    )
    per_table = len(seen)
    seen.clear()
    Parallel(n_jobs=2, batch_size=1, temp_folder=temp_folder)(
        delayed(noop)(frame) for _ in range(8)
    )
    assert 1 <= len(seen) <= per_table
