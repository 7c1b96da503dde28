"""Regression tests of issue 25: each crafted input of the review, in a limited child.

Every file is built in ``_persist_crafted``; each load runs in a child process
with a memory limit and a timeout (``_persist_sandbox``), so that a crash or a
blow-up fails its own test. Before the restricted load reconstructed instead of
executing, and before the byte budget, each of these crashed the interpreter,
changed numpy for the whole process, hid a call from ``inspect``, allocated far
more than its input, or raised an undocumented error.
"""

from __future__ import annotations

import io
import json

import _persist_crafted as crafted
import pytest
from _persist_sandbox import inspect_in_child, load_in_child, load_request, run_in_child
from joblet_test_helpers import run_limited

np = pytest.importorskip("numpy")

import joblet_persist  # noqa: E402
from joblet_persist import FormatError, SizeLimitError, load  # noqa: E402

pytestmark = pytest.mark.timeout(180)


def _write(tmp_path, data, name="crafted.pkl"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _refused(result, error="FormatError"):
    assert "error" in result, f"loaded: {result}"
    assert error in result["types"], result
    return result["message"]


_PEAK = r"""
import json, resource, sys
import joblet_persist
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    if sys.argv[2] == "inspect":
        joblet_persist.inspect_file(sys.argv[1])
    else:
        joblet_persist.load(sys.argv[1], **json.loads(sys.argv[3]))
    error = None
except Exception as exc:
    error = [cls.__name__ for cls in type(exc).__mro__]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("RESULT " + json.dumps({"error": error, "grown_kib": after - before}))
"""


def _peak(path, call="load", **kwargs):
    """What ``load``/``inspect`` raised in a child, and how much its peak RSS grew."""
    done = run_limited(_PEAK, [str(path), call, json.dumps(kwargs)])
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0, done.stderr[-3000:]
    assert lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def test_build_twice_on_an_array_never_frees_a_viewed_buffer(tmp_path):
    path = _write(tmp_path, crafted.array_rebuild_frees_a_view())
    message = _refused(load_in_child(path, allowed_globals=[]))
    assert "BUILD" in message
    # inspect walks the same stream: it refuses it too, without crashing
    _refused(inspect_in_child(path))


_SINGLETONS = r"""
import sys
import numpy as np
import joblet_persist
for path in sys.argv[1:]:
    for read in (lambda: joblet_persist.load(path, allowed_globals=[]),
                 lambda: joblet_persist.inspect_file(path)):
        try:
            read()
        except joblet_persist.FormatError:
            pass
sizes = [np.dtype(kind).itemsize for kind in "SUV"]
assert sizes == [0, 0, 0], sizes
assert np.array([b"abcdef"], dtype="S").itemsize == 6
assert np.array(["abcdef"], dtype="U").itemsize == 24
print("UNCHANGED")
"""


def test_numpy_shared_dtypes_are_never_changed(tmp_path):
    paths = [
        str(_write(tmp_path, data, f"s{index}.pkl"))
        for index, data in enumerate(crafted.singleton_dtype_builds())
    ]
    done = run_limited(_SINGLETONS, paths)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "UNCHANGED" in done.stdout, done.stderr[-3000:]


@pytest.mark.parametrize("kind", ["S", "U", "V"])
def test_a_scalar_of_a_shared_dtype_never_resizes_it(tmp_path, kind):
    # the 57-byte file of the review: scalar(numpy.dtype('S')) with no data made
    # numpy set the shared dtype's item size to 1, so every later dtype='S' array
    # of the process held one byte (and 'U' raised SystemError)
    data = crafted.singleton_dtype_scalar(kind)
    assert len(data) == 57
    path = _write(tmp_path, data)
    done = run_limited(_SINGLETONS, [str(path)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "UNCHANGED" in done.stdout, done.stderr[-3000:]
    assert "BUILD" in _refused(load_in_child(path, allowed_globals=[]))


def test_inspect_sees_the_call_hidden_in_a_joblib_record(tmp_path):
    path = _write(tmp_path, crafted.joblib_record_with_lying_dtype())
    result = inspect_in_child(path)
    # inspect walks what load would build: the lying dtype state is refused
    # (load's own reconstruction refuses it too), or the call is listed
    if "error" in result:
        assert "dtype" in _refused(result)
    else:
        assert "os.system" in result["value"] or "posix.system" in result["value"]
    message = _refused(load_in_child(path, allowed_globals=[]))
    assert "dtype" in message


def test_a_joblib_object_record_lists_the_globals_of_its_nested_stream(tmp_path):
    # a real joblib file: the object array's nested stream names Point's module
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "objects.pkl"
    joblib.dump({"o": np.array([1, "two", None], dtype=object)}, path)
    report = joblet_persist.inspect_file(path)
    assert any(name.endswith("_reconstruct") for name in report.globals)
    assert [a["dtype"] for a in report.arrays] == ["|O"]
    loaded = load(path, allowed_globals=[])
    assert loaded["o"].tolist() == [1, "two", None]


@pytest.mark.parametrize(
    "chunk", [1 << 20, 1 << 44], ids=["1MiB-chunks", "huge-chunks"]
)
@pytest.mark.parametrize("call", ["load", "inspect"])
def test_a_legacy_header_never_zero_fills_what_it_announces(tmp_path, call, chunk):
    data = crafted.legacy_header_zero_fill(700 << 20, chunk)
    path = _write(tmp_path, data, "v1.joblet")
    result = _peak(path, call)
    assert result["error"], result
    assert "FormatError" in result["error"], result
    assert result["grown_kib"] < 64 << 10, result  # not the 700 MiB announced


@pytest.mark.parametrize("kind", ["buffer", "array"])
def test_a_compressed_file_never_allocates_the_buffer_it_declares(tmp_path, kind):
    path = _write(tmp_path, crafted.compressed_huge_buffer(700 << 20, kind), "c.gz")
    assert path.stat().st_size < 1000
    result = _peak(path)
    assert result["error"], result
    assert "TruncatedFileError" in result["error"], result
    assert result["grown_kib"] < 200 << 10, result
    # a restricted load refuses it from its budget, before any allocation
    assert "SizeLimitError" in _peak(path, allowed_globals=[])["error"]


def test_restricted_sizes_count_bytes_not_items(tmp_path):
    path = _write(tmp_path, crafted.items_not_bytes(10**5, 4096))
    _refused(load_in_child(path, allowed_globals=[]))


def test_a_call_repeated_through_the_memo_is_charged_each_time(tmp_path):
    path = _write(tmp_path, crafted.memo_repetition(10**6, 100))
    message = _refused(load_in_child(path, allowed_globals=[]), "SizeLimitError")
    assert "max_bytes" in message
    # below the budget, the same stream loads
    small = _write(tmp_path, crafted.memo_repetition(1000, 3), "small.pkl")
    assert load(small, allowed_globals=[])[1] == list(range(1000))


def test_a_one_stream_bz2_bomb_stays_within_the_budget(tmp_path):
    sink = io.BytesIO()
    joblet_persist.dump(np.zeros(1 << 23), sink)  # 64 MiB of zeros
    path = _write(tmp_path, crafted.one_stream_bz2_bomb(sink.getvalue()), "bomb.bz2")
    assert path.stat().st_size < 10_000
    result = run_in_child(
        [
            load_request(path, allowed_globals=[]),
            load_request(path, max_bytes=1 << 20),
        ]
    )
    for outcome in result:
        message = _refused(outcome, "SizeLimitError")
        assert "max_bytes" in message
    assert load(path, max_bytes=1 << 27).shape == (1 << 23,)  # within the limit


def test_max_bytes_is_checked_and_named(tmp_path):
    path = tmp_path / "list.joblet"
    joblet_persist.dump(list(range(10_000)), path)
    with pytest.raises(SizeLimitError, match=r"max_bytes=1,000"):
        load(path, allowed_globals=[], max_bytes=1000)
    assert load(path, allowed_globals=[], max_bytes=10**6) == list(range(10_000))
    with pytest.raises(ValueError, match="max_bytes"):
        load(path, max_bytes=-1)


@pytest.mark.parametrize(
    "data", [crafted.missing_module(), crafted.dtype_syntax_error()],
    ids=["ModuleNotFoundError", "SyntaxError"],
)  # fmt: skip
@pytest.mark.parametrize("allowed", [None, []], ids=["trusted", "restricted"])
def test_import_and_parse_errors_are_format_errors(tmp_path, data, allowed):
    path = _write(tmp_path, data)
    with pytest.raises(FormatError):
        load(path, allowed_globals=allowed)
    with pytest.raises(FormatError):
        load(io.BytesIO(data), allowed_globals=allowed)
