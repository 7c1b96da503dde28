"""A large buffer read by two threads in turns (joblet_persist._split_read).

The slices and the threshold are made small so that a buffer of a few hundred
kilobytes takes the two-thread path; each test checks what a sequential read
gives: the same bytes, the same digest, the same errors, and the file's
position after the buffer.
"""

from __future__ import annotations

import threading

import pytest

from joblet_persist import (
    FormatError,
    TruncatedFileError,
    _checksums,
    _split_read,
    dump,
    load,
)

np = pytest.importorskip("numpy")
xxhash = pytest.importorskip("xxhash")

SLICE = 1 << 12


@pytest.fixture
def small_slices(monkeypatch):
    monkeypatch.setattr(_checksums, "SLICE", SLICE)
    monkeypatch.setattr(_split_read, "SPLIT_MIN", 1 << 14)
    monkeypatch.setattr(_checksums, "spare_cpu", lambda: True)


def _split_threads():
    return [t for t in threading.enumerate() if t.name == "joblet-persist-split-read"]


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
@pytest.mark.parametrize("extra", [0, 1, SLICE - 1], ids=["whole", "+1", "+slice-1"])
def test_the_buffer_digest_and_position_are_a_sequential_reads(
    tmp_path, small_slices, hashed, extra
):
    data = np.random.default_rng(0).bytes(37 * SLICE + extra)  # odd slice count
    path = tmp_path / "raw"
    path.write_bytes(b"HEAD" + data + b"TAIL")
    view = memoryview(bytearray(len(data)))
    with open(path, "rb", buffering=0) as file:
        file.seek(4)
        split = _split_read.split_reader(file, view, "raw", hashed)
        assert split is not None
        digest = split.run()
        assert file.read() == b"TAIL"
    assert bytes(view) == data
    assert digest == (xxhash.xxh3_64_intdigest(data) if hashed else None)
    assert not _split_threads()


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
def test_a_file_cut_short_is_a_truncated_file_error(tmp_path, small_slices, hashed):
    path = tmp_path / "raw"
    path.write_bytes(bytes(20 * SLICE))
    view = memoryview(bytearray(30 * SLICE))
    with open(path, "rb", buffering=0) as file:
        split = _split_read.split_reader(file, view, "'raw'", hashed)
        with pytest.raises(TruncatedFileError, match="'raw' is truncated: it ends"):
            split.run()
    assert not _split_threads()


def test_short_reads_are_continued(tmp_path, small_slices, monkeypatch):
    # a read may return fewer bytes than asked without the file ending
    data = np.random.default_rng(1).bytes(9 * SLICE + 7)
    path = tmp_path / "raw"
    path.write_bytes(data)
    real = _split_read.os.preadv

    def short(fd, buffers, offset):
        [buffer] = buffers
        return real(fd, [buffer[: max(1, len(buffer) // 3)]], offset)

    monkeypatch.setattr(_split_read.os, "preadv", short)
    view = memoryview(bytearray(len(data)))
    with open(path, "rb", buffering=0) as file:
        digest = _split_read.split_reader(file, view, "raw", hashed=True).run()
    assert bytes(view) == data
    assert digest == xxhash.xxh3_64_intdigest(data)


def test_a_failed_read_stops_the_other_thread(tmp_path, small_slices, monkeypatch):
    path = tmp_path / "raw"
    path.write_bytes(bytes(40 * SLICE))
    real = _split_read.os.preadv

    def failing(fd, buffers, offset):
        if offset >= 7 * SLICE:
            raise OSError("disk gone")
        return real(fd, buffers, offset)

    monkeypatch.setattr(_split_read.os, "preadv", failing)
    view = memoryview(bytearray(40 * SLICE))
    with open(path, "rb", buffering=0) as file:
        split = _split_read.split_reader(file, view, "raw", hashed=True)
        with pytest.raises(OSError, match="disk gone"):
            split.run()
    assert not _split_threads()


@pytest.mark.parametrize(
    ("size", "spare", "file_object", "expected"),
    [
        (1 << 14, True, False, True),
        ((1 << 14) - 1, True, False, False),  # small: one thread reads it
        (1 << 14, False, False, False),  # no CPU free
        (1 << 14, True, True, False),  # no descriptor to read at an offset
    ],
)
def test_two_threads_only_for_a_large_buffer_of_a_file_with_a_cpu_free(
    tmp_path, small_slices, monkeypatch, size, spare, file_object, expected
):
    import io

    monkeypatch.setattr(_checksums, "spare_cpu", lambda: spare)
    path = tmp_path / "raw"
    path.write_bytes(bytes(size))
    view = memoryview(bytearray(size))
    with open(path, "rb", buffering=0) as raw:
        file = io.BytesIO(raw.read()) if file_object else raw
        raw.seek(0)
        chosen = _split_read.split_reader(file, view, "raw", hashed=True)
    assert (chosen is not None) is expected


def test_an_unbuffered_pipe_is_read_by_one_thread(tmp_path, small_slices):
    # a FileIO without offsets: preadv would fail, so the plain read takes it
    import os

    path = tmp_path / "x.joblet"
    array = np.arange(50_000, dtype=np.float64)
    dump(array, path)
    data = path.read_bytes()
    read_end, write_end = os.pipe()
    writer = threading.Thread(
        target=lambda: (os.write(write_end, data), os.close(write_end))
    )
    writer.start()
    with open(read_end, "rb", buffering=0) as pipe:
        np.testing.assert_array_equal(load(pipe), array)
    writer.join()


@pytest.mark.parametrize("verify", [None, False], ids=["verified", "unverified"])
def test_a_load_from_a_path_takes_the_two_thread_path(
    tmp_path, small_slices, monkeypatch, verify
):
    runs = []
    real = _split_read.SplitRead.run

    def counting(self):
        runs.append(self.hasher is not None)
        return real(self)

    monkeypatch.setattr(_split_read.SplitRead, "run", counting)
    arrays = {"a": np.arange(50_000, dtype=np.float64), "b": np.arange(10)}
    path = tmp_path / "x.joblet"
    dump(arrays, path)
    loaded = load(path, verify=verify)
    np.testing.assert_array_equal(loaded["a"], arrays["a"])
    np.testing.assert_array_equal(loaded["b"], arrays["b"])
    assert runs == [verify is None]  # only the large array, hashed when verified


def test_damage_is_caught_on_the_two_thread_path(tmp_path, small_slices):
    path = tmp_path / "x.joblet"
    dump(np.arange(50_000, dtype=np.float64), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10  # inside the array
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="does not match its checksum"):
        load(path)
