"""joblet_hash.hash on numpy arrays, memmaps, scalars and dtypes."""

from __future__ import annotations

import tracemalloc

import pytest

from joblet_hash import HASH_NAMES, hash

np = pytest.importorskip("numpy")


class SubArray(np.ndarray):
    pass


@pytest.fixture(params=HASH_NAMES)
def hash_name(request):
    return request.param


def test_equal_arrays_hash_equal(hash_name):
    a = np.arange(1000.0).reshape(10, 100)
    assert hash(a, hash_name=hash_name) == hash(a.copy(), hash_name=hash_name)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda a: a.astype(np.float32), id="dtype"),
        pytest.param(lambda a: a.reshape(100, 10), id="shape"),
        pytest.param(lambda a: np.asfortranarray(a), id="memory-order"),
        pytest.param(lambda a: a.astype(a.dtype.newbyteorder()), id="byte-order"),
        pytest.param(lambda a: np.where(a == 5, -1.0, a), id="content"),
        pytest.param(lambda a: a.view(np.int64), id="view-dtype"),
        pytest.param(lambda a: a.view(SubArray), id="subclass"),
    ],
)
def test_different_arrays_hash_differently(change, hash_name):
    a = np.arange(1000.0).reshape(10, 100)
    assert hash(a, hash_name=hash_name) != hash(change(a), hash_name=hash_name)


@pytest.mark.parametrize(
    "view",
    [
        pytest.param(lambda a: a[::2], id="rows"),
        pytest.param(lambda a: a[:, ::3], id="columns"),
        pytest.param(lambda a: a[::-1], id="reversed"),
        pytest.param(lambda a: a.T[::2], id="transposed-strided"),
    ],
)
def test_strided_views_hash_like_their_contiguous_copies(view, hash_name):
    a = np.arange(3000, dtype=np.int32).reshape(60, 50)
    part = view(a)
    assert not part.flags.c_contiguous
    assert hash(part, hash_name=hash_name) == hash(
        np.ascontiguousarray(part), hash_name=hash_name
    )


@pytest.mark.thread_unsafe  # tracemalloc counts every thread's allocations
@pytest.mark.parametrize("hash_name", ["md5", "xxh3_128"])
def test_large_strided_view_is_hashed_in_bounded_chunks(hash_name):
    a = np.random.default_rng(0).random((4000, 4000))  # 128 MB
    view = a[:, ::2]  # 64 MB, not contiguous
    expected = hash(np.ascontiguousarray(view), hash_name=hash_name)
    tracemalloc.start()
    try:
        digest = hash(view, hash_name=hash_name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest == expected
    # A few 4 MiB chunks in flight at most, never a copy of the 64 MB view.
    assert peak < 32 * 1024 * 1024, (
        f"hashing copied {peak} bytes of a {view.nbytes} byte view"
    )


def test_contiguous_array_is_not_copied():
    a = np.ones(16 * 1024 * 1024)  # 128 MB
    tracemalloc.start()
    try:
        hash(a, hash_name="md5")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024


def test_memmap_hashes_like_ndarray_only_with_coerce_mmap(tmp_path):
    a = np.arange(100.0)
    mm = np.memmap(tmp_path / "a.mmap", dtype=a.dtype, mode="w+", shape=a.shape)
    mm[:] = a
    assert hash(mm) != hash(a)
    assert hash(mm, coerce_mmap=True) == hash(a)
    assert hash(mm[10:20], coerce_mmap=True) == hash(a[10:20])


def test_object_arrays_hash_by_their_elements():
    left = np.array([{"b": 1, "a": 2}, "x", None], dtype=object)
    right = np.array([{"a": 2, "b": 1}, "x", None], dtype=object)
    assert hash(left) == hash(right)
    assert hash(left) != hash(np.array([{"a": 2}, "x", None], dtype=object))


def test_arrays_with_dtypes_that_have_no_buffer_format():
    dates = np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]")
    assert hash(dates) == hash(dates.copy())
    assert hash(dates) != hash(dates.astype("datetime64[s]"))
    structured = np.zeros(3, dtype=[("a", "i4"), ("b", "f8")])
    assert hash(structured) == hash(structured.copy())


def test_zero_size_and_zero_dim_arrays():
    assert hash(np.empty((0, 3))) != hash(np.empty((3, 0)))
    assert hash(np.array(1.5)) == hash(np.array(1.5))
    assert hash(np.array(1.5)) != hash(np.array([1.5]))


def test_numpy_scalars_and_dtypes():
    assert hash(np.float64(1.0)) == hash(np.float64(1.0))
    assert hash(np.float64(1.0)) != hash(np.float32(1.0))
    assert hash(np.float64(1.0)) != hash(1.0)
    assert hash(np.dtype("f8")) == hash(np.dtype(float))
    assert hash(np.dtype("<f8")) != hash(np.dtype(">f8"))


def test_ufuncs_hash_by_name():
    assert hash(np.sin) == hash(np.sin)
    assert hash(np.sin) != hash(np.cos)


def test_arrays_inside_containers_in_any_dict_order():
    x, y = np.arange(5), np.ones(3)
    assert hash({"x": x, "y": y}) == hash({"y": y.copy(), "x": x.copy()})
