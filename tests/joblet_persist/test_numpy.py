"""numpy arrays: raw aligned storage, memory mapping, the examples of joblib 0.13's documentation."""

from __future__ import annotations

import warnings

import pytest

np = pytest.importorskip("numpy")

from joblet_persist import dump, inspect_file, load  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:the matrix subclass:PendingDeprecationWarning"
)

ARRAYS = {
    "float64": lambda: np.linspace(0, 1, 1000),
    "int8": lambda: np.arange(-100, 100, dtype=np.int8),
    "bool": lambda: np.array([True, False, True]),
    "complex": lambda: np.arange(6, dtype=np.complex128) * 1j,
    "big_endian": lambda: np.arange(10, dtype=">f4"),
    "datetime": lambda: np.arange(5).astype("M8[D]"),
    "unicode": lambda: np.array(["a", "bcd", "é"]),
    "bytes": lambda: np.array([b"x", b"yz"]),
    "structured": lambda: np.array(
        [(1, 2.0), (3, 4.0)], dtype=[("i", "<i4"), ("f", "<f8")]
    ),
    "fortran": lambda: np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "c_3d": lambda: np.arange(24).reshape(2, 3, 4),
    "strided_view": lambda: np.arange(100)[::3],
    "transposed_view": lambda: np.arange(12).reshape(3, 4)[:, 1:].T,
    "zero_d": lambda: np.array(7.5),
    "empty": lambda: np.zeros((0, 4)),
    "object": lambda: np.array([1, "two", None], dtype=object),
    "matrix": lambda: np.matrix([[1, 2], [3, 4]]),
}


def _same(a, b):
    assert type(b) is type(a) or (isinstance(b, np.memmap) and type(a) is np.ndarray)
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    if a.dtype.hasobject:
        assert a.tolist() == b.tolist()
    else:
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", ARRAYS)
@pytest.mark.parametrize("compress", [0, 3, "gzip"], ids=repr)
def test_array_roundtrip(tmp_path, name, compress):
    array = ARRAYS[name]()
    dump({"x": array, "same": array}, tmp_path / "a", compress=compress)
    loaded = load(tmp_path / "a", ensure_native_byte_order=False)
    _same(array, loaded["x"])
    assert loaded["same"] is loaded["x"]  # shared references stay shared


@pytest.mark.parametrize("name", [n for n in ARRAYS if n != "object"])
def test_mmap_roundtrip(tmp_path, name):
    array = ARRAYS[name]()
    dump([array], tmp_path / "m")
    loaded = load(tmp_path / "m", mmap_mode="r")[0]
    if name != "matrix":  # a subclass stays itself, viewing the memmap
        assert isinstance(loaded, np.memmap)
    _same(array, loaded)


def test_buffers_are_aligned_and_raw(tmp_path):
    arrays = [np.arange(n, dtype=np.float64) for n in (1, 3, 1000)]
    dump(arrays, tmp_path / "al")
    for loaded, original in zip(
        load(tmp_path / "al", mmap_mode="r"), arrays, strict=True
    ):
        assert loaded.offset % 64 == 0
        raw = (tmp_path / "al").read_bytes()[
            loaded.offset : loaded.offset + original.nbytes
        ]
        assert raw == original.tobytes()


def test_mmap_modes(tmp_path):
    path = tmp_path / "modes"
    dump({"a": np.zeros(10)}, path)
    read_only = load(path, mmap_mode="r")["a"]
    assert not read_only.flags.writeable
    copy_on_write = load(path, mmap_mode="c")["a"]
    copy_on_write[0] = 5
    assert load(path)["a"][0] == 0
    for mode in ("r+", "w+"):  # w+ acts as r+: the file is never truncated
        shared = load(path, mmap_mode=mode)["a"]
        shared[1] += 1
        shared.flush()
        del shared
    assert load(path)["a"][1] == 2


def test_object_arrays_are_pickled_normally(tmp_path):
    path = tmp_path / "obj"
    dump(np.array([{"a": 1}, [2]], dtype=object), path)
    loaded = load(path, mmap_mode="r")
    assert not isinstance(loaded, np.memmap)
    assert loaded.tolist() == [{"a": 1}, [2]]
    # inspect lists what load allocates: the object array, 8 bytes per item
    assert [a["nbytes"] for a in inspect_file(path).arrays] == [16]


def test_memmap_input_is_saved_as_array(tmp_path):
    source = np.memmap(tmp_path / "src.dat", dtype=np.int32, mode="w+", shape=(5,))
    source[:] = 3
    dump(source, tmp_path / "out")
    loaded = load(tmp_path / "out")
    assert type(loaded) is np.ndarray
    assert loaded.tolist() == [3] * 5


def test_mmap_on_compressed_file_warns_and_loads(tmp_path):
    dump(np.arange(10), tmp_path / "c.z")
    with pytest.warns(UserWarning, match="compressed"):
        loaded = load(tmp_path / "c.z", mmap_mode="r")
    assert type(loaded) is np.ndarray
    assert loaded.sum() == 45


def test_many_chunks_compressed(tmp_path):
    array = np.arange(3_000_000, dtype=np.int64) % 1000  # 24 MB: many 1 MiB chunks
    dump(array, tmp_path / "big", compress="zlib")
    assert np.array_equal(load(tmp_path / "big"), array)


def test_numpy_scalars_and_pickled_numpy_files(tmp_path):
    import pickle

    value = [np.float32(1.5), np.int64(3), np.dtype("f8")]
    dump(value, tmp_path / "s")
    assert load(tmp_path / "s") == value
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(np.arange(5), protocol=5))
    assert load(tmp_path / "p.pkl").tolist() == [0, 1, 2, 3, 4]


def test_joblib_013_docs_simple_example(tmp_path):
    import os

    filename = os.path.join(tmp_path, "test.joblib")
    to_persist = [("a", [1, 2, 3]), ("b", np.arange(10))]
    assert dump(to_persist, filename) == [filename]
    assert repr(load(filename)) == (
        "[('a', [1, 2, 3]), ('b', array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))]"
    )
    with open(filename, "wb") as fo:
        dump(to_persist, fo)
    with open(filename, "rb") as fo:
        assert repr(load(fo)) == repr(to_persist)
    for suffix, compress in [
        (".gz", ("gzip", 3)),
        (".bz2", ("bz2", 3)),
        (".gz", "gzip"),
    ]:
        dump(to_persist, filename + suffix, compress=compress)
        assert repr(load(filename + suffix)) == repr(to_persist)


def test_joblib_013_docs_lz4_example(tmp_path):
    pytest.importorskip("lz4")
    filename = str(tmp_path / "test.joblib")
    to_persist = [("a", [1, 2, 3]), ("b", np.arange(10))]
    assert dump(to_persist, filename + ".lz4") == [filename + ".lz4"]
    assert repr(load(filename + ".lz4")) == repr(to_persist)


def test_joblib_013_docs_memmap_example(tmp_path):
    large_array = np.ones(int(1e6))
    filename = str(tmp_path / "large_array.mmap")
    _ = dump(large_array, filename)
    large_memmap = load(filename, mmap_mode="r+")
    assert (large_memmap.__class__.__name__, large_array.nbytes, large_array.shape) == (
        "memmap",
        8000000,
        (1000000,),
    )
    assert np.allclose(large_array, large_memmap)
    small_memmap = large_memmap[2:5]
    assert (
        small_memmap.__class__.__name__,
        small_memmap.nbytes,
        small_memmap.shape,
    ) == (
        "memmap",
        24,
        (3,),
    )
    assert np.asarray(small_memmap).__class__.__name__ == "ndarray"


def test_no_warning_for_plain_mmap(tmp_path):
    dump(np.arange(3), tmp_path / "w")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(tmp_path / "w", mmap_mode="r")


def test_large_dump_preallocates_exactly(tmp_path, monkeypatch):
    import os
    import sys

    from joblet_persist import _dump

    monkeypatch.setattr(_dump, "PREALLOCATE_MIN", 1 << 20)
    array = np.arange(1 << 19, dtype=np.float64)  # 4 MiB
    path = tmp_path / "big.joblet"
    dump(array, path)  # over nothing
    dump(array + 1, path)  # over an existing file
    np.testing.assert_array_equal(load(path), array + 1)
    np.testing.assert_array_equal(load(path, mmap_mode="r"), array + 1)
    size = os.path.getsize(path)
    assert array.nbytes < size < array.nbytes + 4096
    if sys.platform.startswith("linux"):
        # no blocks reserved beyond the end of the file (KEEP_SIZE, exact size)
        assert os.stat(path).st_blocks * 512 < size + (1 << 16)


def test_preallocation_failure_is_harmless(tmp_path, monkeypatch):
    from joblet_persist import _dump

    monkeypatch.setattr(_dump, "PREALLOCATE_MIN", 0)
    monkeypatch.setattr(_dump.sys, "platform", "linux")

    class NoFileno:
        def __init__(self, file):
            self.file = file

        def fileno(self):
            raise OSError("no descriptor")

    _dump._preallocate(NoFileno(None), 100)  # type: ignore[arg-type]
    value = {"a": np.ones(10), "b": [1, 2]}
    dump(value, tmp_path / "small.joblet")
    loaded = load(tmp_path / "small.joblet")
    np.testing.assert_array_equal(loaded["a"], value["a"])
