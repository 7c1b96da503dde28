"""``inspect_file`` and ``python -m joblet_persist inspect``: sizes, ratio, damage."""

from __future__ import annotations

import os
import pickle

import pytest
from _persist_sandbox import inspect_in_child, run_module_in_child

np = pytest.importorskip("numpy")

from joblet_persist import (  # noqa: E402
    FormatError,
    dump,
    inspect_file,
    load,
)
from joblet_persist._inspect import human_size  # noqa: E402

VALUE = {"array": np.arange(20000, dtype="<f8"), "rows": [{"i": i} for i in range(50)]}
CODECS = [0, "zlib", "gzip", "bz2", "xz", "lzma", "lz4", "zstd"]


def _files(tmp_path):
    """name -> path of healthy files of every kind."""
    joblib = pytest.importorskip("joblib")
    files = {}
    for compress in CODECS:
        files[f"joblet-{compress}"] = tmp_path / f"joblet-{compress}.pkl"
        dump(VALUE, files[f"joblet-{compress}"], compress=compress)
    for compress in (0, "gzip", "lz4"):
        files[f"joblib-{compress}"] = tmp_path / f"joblib-{compress}.pkl"
        joblib.dump(VALUE, files[f"joblib-{compress}"], compress=compress)
    files["pickle"] = tmp_path / "plain.pkl"
    files["pickle"].write_bytes(pickle.dumps(VALUE, 4))
    return files


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [
        (0, "0 bytes"),
        (1023, "1,023 bytes"),
        (1024, "1.0 KiB (1,024 bytes)"),
        (1536 * 1024, "1.5 MiB (1,572,864 bytes)"),
        (3 << 40, "3.0 TiB (3,298,534,883,328 bytes)"),
    ],
)
def test_human_size(nbytes, text):
    assert human_size(nbytes) == text


def test_reports_sizes_and_ratio(tmp_path):
    for name, path in _files(tmp_path).items():
        report = inspect_file(path)
        size = os.path.getsize(path)
        assert report.file_bytes == size, name
        assert f"file size:   {human_size(size)}" in str(report), name
        assert f"({size:,} bytes)" in str(report), name
        if name != "pickle":  # plain pickles hold arrays inside their stream
            assert [a["nbytes"] for a in report.arrays] == [160000], name
            assert "size=156.2 KiB (160,000 bytes)" in str(report), name
        if name.endswith("-0") or name == "pickle":
            assert report.compression is None, name
            assert report.ratio is None, name
            continue
        assert report.raw_bytes > size, name
        assert report.ratio == pytest.approx(report.raw_bytes / size), name
        assert f"ratio {report.ratio:.2f}x" in str(report), name
        assert f"decompresses to {human_size(report.raw_bytes)}" in str(report), name


def test_truncated_files_are_reported_damaged(tmp_path):
    for path in _files(tmp_path).values():
        data = path.read_bytes()
        for cut in (len(data) // 3, len(data) - 100, len(data) - 1):
            path.write_bytes(data[:cut])
            # (an xz stream cut short is seen as a damaged index: a FormatError)
            with pytest.raises(FormatError, match=r"truncated|corrupted"):
                inspect_file(path)
            with pytest.raises(FormatError):  # load refuses it too
                load(path)


@pytest.mark.parametrize("name", ["joblet-gzip", "joblet-0", "joblib-0", "pickle"])
def test_command_line_reports_damage_without_traceback(tmp_path, name):
    path = _files(tmp_path)[name]
    good = run_module_in_child(["inspect", str(path)])
    assert good.returncode == 0, good.stderr
    assert "file size:" in good.stdout
    path.write_bytes(path.read_bytes()[:-100])
    done = run_module_in_child(["inspect", str(path)])
    assert done.returncode == 1
    assert "truncated" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_text_file_is_named_foreign(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes, not a pickle\n")
    message = "not a joblet-persist, joblib or pickle file"
    for call in (inspect_file, load):
        with pytest.raises(FormatError, match=message):
            call(path)
    done = run_module_in_child(["inspect", str(path)])
    assert done.returncode == 1
    assert message in done.stderr


def test_array_sizes_beyond_the_file_are_truncation(tmp_path):
    # a joblib array wrapper announcing 1 TiB of data in a small file
    state = pickle.dumps(
        {"subclass": np.ndarray, "shape": (1 << 37,), "order": "C",
         "dtype": np.dtype("f8"), "allow_mmap": True}, 2,
    )[2:-1]  # fmt: skip
    path = tmp_path / "small.pkl"
    path.write_bytes(
        b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81"
        + state
        + b"b"
        + bytes(64)
        + b"."
    )
    result = inspect_in_child(path)
    assert "TruncatedFileError" in result["types"], result


def test_inspect_stops_the_decoder_threads(tmp_path):
    # inspect once left each compressed file's decoder threads running: after a
    # few hundred damaged files every call waited for them
    import threading

    path = tmp_path / "big.gz"
    dump({"array": np.arange(1 << 20)}, path, compress="gzip")
    data = path.read_bytes()
    inspect_file(path)
    before = threading.active_count()
    for cut in range(len(data) // 2, len(data), len(data) // 40):
        path.write_bytes(data[:cut])
        with pytest.raises(FormatError):
            inspect_file(path)
        path.write_bytes(data)
        inspect_file(path)
    assert threading.active_count() <= before
