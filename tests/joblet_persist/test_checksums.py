"""Per-buffer xxh3 checksums: damage inside an array never loads silently."""

from __future__ import annotations

import gzip
import io
import warnings

import pytest

from joblet_persist import FormatError, dump, load
from joblet_persist._checksums import DIGEST, UNVERIFIED_MARK
from joblet_persist._format import HEADER, Header

np = pytest.importorskip("numpy")
ARRAY = np.arange(200_000, dtype=np.int64)


def _damaged(tmp_path, where="array"):
    path = tmp_path / "x.joblet"
    dump({"a": ARRAY, "b": [1, 2]}, path)
    data = bytearray(path.read_bytes())
    position = {"array": len(data) - DIGEST.size - 4000, "trailer": len(data) - 3}[
        where
    ]
    data[position] ^= 0x10
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("where", ["array", "trailer"])
def test_damaged_buffer_or_checksum_is_refused(tmp_path, where):
    path = _damaged(tmp_path, where)
    with pytest.raises(FormatError, match="checksum"):
        load(path)
    with open(path, "rb") as handle, pytest.raises(FormatError, match="checksum"):
        load(handle)
    with pytest.raises(FormatError, match="checksum"):
        load(path, mmap_mode="r", verify=True)


def test_memory_mapping_does_not_read_every_page_unless_asked(tmp_path):
    path = _damaged(tmp_path)
    mapped = load(path, mmap_mode="r")  # not verified: documented
    assert isinstance(mapped["a"], np.memmap)
    assert not np.array_equal(mapped["a"], ARRAY)
    assert not np.array_equal(load(path, verify=False)["a"], ARRAY)


def test_intact_files_verify_in_every_mode(tmp_path):
    path = tmp_path / "x.joblet"
    dump({"a": ARRAY, "f": np.asfortranarray(ARRAY[:100].reshape(10, 10))}, path)
    for kwargs in ({}, {"mmap_mode": "r", "verify": True}, {"verify": False}):
        np.testing.assert_array_equal(load(path, **kwargs)["a"], ARRAY)


def test_damage_under_a_codec_without_checksums_is_caught(tmp_path):
    lz4_frame = pytest.importorskip("lz4.frame")
    plain = io.BytesIO()
    dump({"a": ARRAY}, plain)
    data = bytearray(plain.getvalue())
    data[len(data) - DIGEST.size - 100] ^= 0x01
    path = tmp_path / "x.lz4"
    path.write_bytes(lz4_frame.compress(bytes(data)))  # a valid lz4 stream
    with pytest.raises(FormatError, match="checksum"):
        load(path)


def test_several_dumps_with_arrays_in_one_stream(tmp_path):
    path = tmp_path / "stream"
    with open(path, "wb") as handle:
        dump({"a": ARRAY}, handle)
        dump([ARRAY[:10], ARRAY[:3]], handle)
        dump("end", handle)
    with open(path, "rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(load(handle)["a"], ARRAY)
        second = load(handle)
        assert load(handle) == "end"
    np.testing.assert_array_equal(second[1], ARRAY[:3])


def test_writable_mapping_flags_the_checksums_it_would_break(tmp_path):
    path = tmp_path / "x.joblet"
    dump({"a": np.zeros(10)}, path)
    trailer = path.read_bytes()[-DIGEST.size :]
    header = path.read_bytes()[: HEADER.size]
    shared = load(path, mmap_mode="r+")["a"]
    shared[3] = 7.0
    shared.flush()
    del shared
    assert load(path)["a"][3] == 7.0  # changed on purpose, not damage
    # the checksums are marked as no longer holding, with a pattern no damage
    # makes by accident (never 0: a zeroed trailer is damage)
    assert path.read_bytes()[-DIGEST.size :] == UNVERIFIED_MARK != trailer
    assert path.read_bytes()[: HEADER.size] == header  # the header is untouched
    with pytest.raises(FormatError, match="verify=True cannot check it"):
        load(path, verify=True)


@pytest.mark.parametrize("span", ["trailer", "tail"])
def test_a_zeroed_tail_is_damage_never_a_skipped_check(tmp_path, span):
    # a checksum of 0 used to mean "not known": zeroing the end of a file (the
    # usual damage of a power loss) loaded zeros without an error
    path = tmp_path / "x.joblet"
    dump({"a": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    size = DIGEST.size if span == "trailer" else 4096
    data[-size:] = bytes(size)
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="checksum is 0"):
        load(path)
    with pytest.raises(FormatError, match="checksum is 0"):
        load(path, mmap_mode="r", verify=True)
    assert load(path, verify=False)["a"].shape == (1000,)  # the documented way out


@pytest.mark.parametrize("large", [False, True], ids=["inline", "helper-thread"])
def test_checksums_equal_xxh3_of_each_buffer(tmp_path, monkeypatch, large):
    # buffers from BACKGROUND_MIN bytes up are hashed on a helper thread, in the
    # same pass as the write and the read: the digest must be the same
    import threading

    import xxhash

    from joblet_persist import _checksums

    monkeypatch.setattr(_checksums, "SLICE", 1 << 12)  # many slices
    monkeypatch.setattr(_checksums, "INLINE_SLICE", 1 << 12)
    monkeypatch.setattr(_checksums, "BACKGROUND_MIN", 1 << 14 if large else 1 << 40)
    monkeypatch.setattr(_checksums, "spare_cpu", lambda: True)
    arrays = [ARRAY, ARRAY[:7].copy(), np.zeros(0)]
    path = tmp_path / "x.joblet"
    dump(arrays, path)
    data = path.read_bytes()
    trailer = data[-DIGEST.size * len(arrays) :]
    recorded = [DIGEST.unpack_from(trailer, i * DIGEST.size)[0] for i in range(3)]
    assert recorded == [xxhash.xxh3_64_intdigest(a.tobytes()) for a in arrays]
    for loaded, expected in zip(load(path), arrays, strict=True):
        np.testing.assert_array_equal(loaded, expected)
    assert not [
        t for t in threading.enumerate() if t.name.startswith("joblet-persist-checksum")
    ]
    damaged = bytearray(data)
    damaged[len(data) - DIGEST.size * 3 - 64 - 1000] ^= 0x01  # inside ARRAY
    path.write_bytes(bytes(damaged))
    with pytest.raises(FormatError, match="buffer 0 does not match"):
        load(path)
    assert not [
        t for t in threading.enumerate() if t.name.startswith("joblet-persist-checksum")
    ]


def test_a_failed_read_stops_the_hashing_thread(monkeypatch):
    import threading

    from joblet_persist import _checksums

    monkeypatch.setattr(_checksums, "SLICE", 1 << 12)
    monkeypatch.setattr(_checksums, "BACKGROUND_MIN", 1 << 14)
    monkeypatch.setattr(_checksums, "spare_cpu", lambda: True)
    calls = []

    def read_into(piece):
        calls.append(piece.nbytes)
        if len(calls) == 3:
            raise OSError("disk gone")
        piece[:] = b"\x01" * piece.nbytes

    with pytest.raises(OSError, match="disk gone"):
        _checksums.read_hashed(read_into, memoryview(bytearray(1 << 16)))
    assert len(calls) == 3
    assert not [
        t for t in threading.enumerate() if t.name.startswith("joblet-persist-checksum")
    ]


def test_a_large_load_hashes_each_slice_beside_the_next_read(monkeypatch):
    # slice k is hashed on the helper thread while slice k + 1 is read: the
    # overlap that keeps a verified load near a plain read (two CPUs or more)
    import threading

    import xxhash

    from joblet_persist import _checksums

    monkeypatch.setattr(_checksums, "SLICE", 1 << 12)
    monkeypatch.setattr(_checksums, "BACKGROUND_MIN", 1 << 14)
    monkeypatch.setattr(_checksums, "spare_cpu", lambda: True)
    hashed_on = set()
    real = _checksums.new_hasher

    class Recording:
        def __init__(self):
            self.inner = real()

        def update(self, piece):
            hashed_on.add(threading.current_thread().name)
            self.inner.update(piece)

        def intdigest(self):
            return self.inner.intdigest()

    monkeypatch.setattr(_checksums, "new_hasher", Recording)
    data = np.arange(1 << 13, dtype=np.int64).tobytes()
    offset = 0

    def read_into(piece):
        nonlocal offset
        piece[:] = data[offset : offset + piece.nbytes]
        offset += piece.nbytes

    view = memoryview(bytearray(len(data)))
    assert _checksums.read_hashed(read_into, view) == xxhash.xxh3_64_intdigest(data)
    assert bytes(view) == data
    assert hashed_on
    assert all(name.startswith("joblet-persist-checksum") for name in hashed_on)
    # no CPU to spare: the helper would only wait, so the read hashes inline
    monkeypatch.setattr(_checksums, "spare_cpu", lambda: False)
    hashed_on.clear()
    offset = 0
    assert _checksums.read_hashed(read_into, view) == xxhash.xxh3_64_intdigest(data)
    assert hashed_on == {threading.current_thread().name}


@pytest.mark.parametrize(
    ("allowed", "running", "spare"),
    [
        (1, 1, False),  # one allowed CPU: a helper would only wait
        (2, 1, True),  # only this thread runs: the other CPU is free
        (2, 2, False),  # another thread holds the other CPU
        (2, 5, False),
    ],
)
def test_the_helper_is_used_only_when_a_cpu_is_free(
    monkeypatch, allowed, running, spare
):
    import joblet_hash.threads
    from joblet_persist import _checksums

    monkeypatch.setattr(joblet_hash.threads, "usable_cpu_count", lambda: allowed)
    monkeypatch.setattr(_checksums.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(_checksums, "_running_tasks", lambda: running)
    assert _checksums.spare_cpu() is spare


@pytest.mark.parametrize(("load_average", "spare"), [(0.9, True), (1.7, False)])
def test_without_a_running_count_the_load_average_decides(
    monkeypatch, load_average, spare
):
    import joblet_hash.threads
    from joblet_persist import _checksums

    monkeypatch.setattr(joblet_hash.threads, "usable_cpu_count", lambda: 2)
    monkeypatch.setattr(_checksums.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(_checksums, "_running_tasks", lambda: None)
    monkeypatch.setattr(_checksums.os, "getloadavg", lambda: (load_average, 0, 0))
    assert _checksums.spare_cpu() is spare


def test_the_running_count_is_read_from_the_system():
    from joblet_persist import _checksums

    running = _checksums._running_tasks()
    if running is None:
        pytest.skip("no count of running threads on this platform")
    assert running >= 1  # this test's own thread is running


@pytest.mark.parametrize("spare", [False, True], ids=["inline", "helper-thread"])
def test_inline_slices_fit_the_cache_and_helper_slices_are_larger(monkeypatch, spare):
    # a slice hashed inline is read back from the CPU's cache (1 MiB); the
    # helper, hashing beside the next read, takes 4 MiB at a time
    from joblet_persist import _checksums

    monkeypatch.setattr(_checksums, "spare_cpu", lambda: spare)
    sizes = []
    view = memoryview(bytearray(_checksums.BACKGROUND_MIN))
    _checksums.read_hashed(lambda piece: sizes.append(piece.nbytes), view)
    expected = _checksums.SLICE if spare else _checksums.INLINE_SLICE
    assert set(sizes) == {expected}
    assert sum(sizes) == view.nbytes
    written = list(_checksums.hashed_slices(view, []))
    assert {piece.nbytes for piece in written} == {expected}


def test_the_reads_wait_for_a_helper_that_lags_max_lag_slices(monkeypatch):
    # a helper starved by other work must hold the reads back, so that it
    # hashes slices still in the cache instead of the whole buffer afterwards
    import threading
    import time

    import xxhash

    from joblet_persist import _checksums

    monkeypatch.setattr(_checksums, "SLICE", 1 << 12)
    monkeypatch.setattr(_checksums, "BACKGROUND_MIN", 1 << 14)
    monkeypatch.setattr(_checksums, "MAX_LAG", 2)
    monkeypatch.setattr(_checksums, "spare_cpu", lambda: True)
    gate = threading.Event()
    real = _checksums.new_hasher

    class Starved:
        def __init__(self):
            self.inner = real()

        def update(self, piece):
            gate.wait(30)
            self.inner.update(piece)

        def intdigest(self):
            return self.inner.intdigest()

    monkeypatch.setattr(_checksums, "new_hasher", Starved)
    data = bytes(range(256)) * 256  # 16 slices
    reads = []

    def read_into(piece):
        start = len(reads) * piece.nbytes
        piece[:] = data[start : start + piece.nbytes]
        reads.append(piece.nbytes)

    result = {}
    view = memoryview(bytearray(len(data)))
    reader = threading.Thread(
        target=lambda: result.update(d=_checksums.read_hashed(read_into, view))
    )
    reader.start()
    time.sleep(0.3)
    # one slice being hashed, MAX_LAG queued, the next one read and waiting
    assert len(reads) == 3
    gate.set()
    reader.join(30)
    assert len(reads) == 16
    assert result["d"] == xxhash.xxh3_64_intdigest(data)


def test_code_region_length_covers_what_a_load_runs(tmp_path):
    from joblet_persist import code_region_length

    path = tmp_path / "r.joblet"
    dump({"a": np.zeros(1000)}, path)
    data = path.read_bytes()
    header = Header.unpack(data[: HEADER.size], "r")
    end = HEADER.size + header.table_len + header.pickle_len
    assert code_region_length(data, len(data)) == end < len(data)
    assert code_region_length(data[: HEADER.size], len(data)) == end
    # anything else is code from its first byte to its last
    assert code_region_length(gzip.compress(data), 999) == 999
    assert code_region_length(b"\x80\x04junk", 7) == 7
    assert code_region_length(data[:20], len(data)) == len(data)


def test_same_file_as_refuses_a_file_renamed_over_the_checked_one(tmp_path):
    import os

    import joblet_persist

    path = tmp_path / "data.joblet"
    joblet_persist.dump([1, 2, 3], path)
    checked = os.stat(path)
    assert joblet_persist.load(path, same_file_as=checked) == [1, 2, 3]
    joblet_persist.dump("planted", tmp_path / "other.joblet")
    os.replace(tmp_path / "other.joblet", path)
    with pytest.raises(joblet_persist.FormatError, match="replaced"):
        joblet_persist.load(path, same_file_as=checked)
