"""The restricted load rebuilds every default type exactly as pickle does, and only those."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import io
import pickle
import uuid

import pytest

import joblet_persist
from joblet_persist import DEFAULT_ALLOWED_GLOBALS, FormatError, load


def _value():
    tz = datetime.timezone(datetime.timedelta(hours=-3), "X")
    return {
        "scalars": [None, True, False, 0, -1, 2**70, -(2**70), 1.5, 1j, "é", b"\x00"],
        "containers": ([1], (2,), {3}, frozenset({4}), {"k": [5]}),
        "bytearray": bytearray(b"ab"),
        "range": range(1, 10, 3),
        "slice": slice(1, None, 2),
        "ordered": collections.OrderedDict(b=1, a=2),
        "deque": collections.deque([1, 2], maxlen=5),
        "when": [
            datetime.date(2020, 2, 29),
            datetime.datetime(2021, 1, 2, 3, 4, 5, 6, tzinfo=tz),
            datetime.time(1, 2, 3, 4),
            datetime.timedelta(days=-1, seconds=5),
        ],
        "numbers": [decimal.Decimal("-1.25E+3"), fractions.Fraction(-7, 3)],
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "shared": [[1, 2]] * 2,
    }


@pytest.mark.parametrize("protocol", range(6))
def test_every_default_type_is_rebuilt_as_pickle_does(tmp_path, protocol):
    value = _value()
    data = pickle.dumps(value, protocol)
    loaded = load(io.BytesIO(data), allowed_globals=[])
    assert loaded == pickle.loads(data) == value
    assert loaded["shared"][0] is loaded["shared"][1]  # the memo is kept
    joblet_persist.dump(value, tmp_path / "v", protocol=protocol)
    assert load(tmp_path / "v", allowed_globals=[]) == value


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_values_are_rebuilt_as_pickle_does(tmp_path, protocol):
    np = pytest.importorskip("numpy")
    value = {
        "arrays": [np.arange(6.0).reshape(2, 3), np.asfortranarray(np.ones((2, 2)))],
        "object": np.array([1, "x", None], dtype=object),
        "record": np.zeros(2, dtype=[("a", "<i4"), ("b", "O")]),
        "scalars": [np.float32(1.5), np.int64(-3), np.bool_(True), np.str_("s")],
        "dtypes": [np.dtype("<M8[ms]"), np.dtype([("x", "<f4", (2,))])],
    }
    data = pickle.dumps(value, protocol)
    loaded = load(io.BytesIO(data), allowed_globals=[])
    expected = pickle.loads(data)
    for got, want in zip(loaded["arrays"], expected["arrays"], strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.flags.f_contiguous == want.flags.f_contiguous
    assert loaded["object"].tolist() == expected["object"].tolist()
    assert loaded["record"].tolist() == expected["record"].tolist()
    assert loaded["scalars"] == expected["scalars"]
    assert [type(s) for s in loaded["scalars"]] == [type(s) for s in value["scalars"]]
    assert loaded["dtypes"] == expected["dtypes"]


def test_the_default_allow_list_is_the_table_of_reconstructors():
    from joblet_persist._walk import _handlers

    calls, news = _handlers()
    assert set(calls) | set(news) == set(DEFAULT_ALLOWED_GLOBALS)


@pytest.mark.parametrize(
    "stream",
    [
        b"\x80\x02c__builtin__\nlist\nc__builtin__\nlist\n\x85b.",  # BUILD on a class
        b"\x80\x02]c__builtin__\nint\na.",  # fine: a class as a value
        b"\x80\x02c__builtin__\nlist\nK\x01a.",  # APPEND to a class
        b"\x80\x02K\x01]b.",  # BUILD on a list
        b"\x80\x02(K\x01K\x02d.",  # odd pairs? no: one pair, valid
        b"\x80\x02cdecimal\nDecimal\n]\x85R.",  # Decimal of a list
        b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x01\x85R.",  # bytes(16 MiB)
        b"\x80\x02]h\x00.",  # memo index never stored
        b"\x80\x06N.",  # unknown protocol
        b"\x80\x02\xffN.",  # unknown opcode
    ],
)
def test_streams_pickle_never_writes_are_refused(stream):
    valid = stream in (b"\x80\x02]c__builtin__\nint\na.", b"\x80\x02(K\x01K\x02d.")
    if valid:
        assert load(io.BytesIO(stream), allowed_globals=[]) == pickle.loads(stream)
        return
    with pytest.raises(FormatError):
        load(io.BytesIO(stream), allowed_globals=[], max_bytes=1 << 20)


def test_user_globals_are_trusted_code_called_as_pickle_would(tmp_path):
    value = collections.Counter(a=2)
    data = pickle.dumps(value, 2)
    with pytest.raises(joblet_persist.UnsafeGlobalError, match=r"collections\.Counter"):
        load(io.BytesIO(data), allowed_globals=[])
    assert load(io.BytesIO(data), allowed_globals=[collections.Counter]) == value


def test_inspect_lists_every_global_load_imports(tmp_path):
    value = {"c": collections.Counter(a=1), "d": decimal.Decimal(1)}
    path = tmp_path / "g.joblet"
    joblet_persist.dump(value, path)
    names = set(joblet_persist.inspect_file(path).globals)
    assert {"collections.Counter", "decimal.Decimal"} <= names
    with pytest.raises(joblet_persist.UnsafeGlobalError):
        load(path, allowed_globals=sorted(names - {"collections.Counter"}))
    assert load(path, allowed_globals=sorted(names)) == value


def test_an_allowed_global_container_is_never_modified():
    import json.decoder

    before = dict(json.decoder.BACKSLASH)
    stream = b"\x80\x02cjson.decoder\nBACKSLASH\nX\x01\x00\x00\x00kX\x01\x00\x00\x00vs."
    with pytest.raises(joblet_persist.UnsafeGlobalError, match="SETITEM"):
        load(io.BytesIO(stream), allowed_globals=["json.decoder.BACKSLASH"])
    assert before == json.decoder.BACKSLASH
