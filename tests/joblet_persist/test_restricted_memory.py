"""Memory safety and resource bounds of the restricted load.

Each malicious file is built here, byte by byte or through a ``__reduce__``, and
loaded in a child process with a memory limit and a timeout (see
``_persist_sandbox``): before these checks, most of them crashed the
interpreter, grew a file to 1 TiB or exhausted memory.
"""

from __future__ import annotations

import decimal
import fractions
import pickle

import pytest
from _persist_sandbox import load_in_child, load_request, run_in_child

np = pytest.importorskip("numpy")

import joblet_persist  # noqa: E402
from joblet_persist import FormatError, load  # noqa: E402
from joblet_persist._numpy_io import MappedSlot, rebuild_array  # noqa: E402

pytestmark = pytest.mark.timeout(180)

FROMBUFFER = np._core.numeric._frombuffer
SCALAR = np._core.multiarray.scalar
RECONSTRUCT = np._core.multiarray._reconstruct
# A structured dtype whose one field is an object, with the flags that say so
# cleared: numpy then takes raw file bytes for object pointers.
LYING_STATE = (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 0)


class Reduce:
    """Pickles as ``func(*args)``, or ``func(*args)`` then BUILD ``state``."""

    def __init__(self, func, args, state=None):
        self.value = (func, args) if state is None else (func, args, state)

    def __reduce__(self):
        return self.value


def lying_dtype(state=LYING_STATE, args=("V8", False, True)):
    return Reduce(np.dtype, args, state)


def _write(tmp_path, obj, protocol=4, name="evil.pkl"):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol))
    return path


def _refused(result, error="FormatError"):
    assert "error" in result, f"loaded: {result}"
    assert error in result["types"], result
    return result["message"]


RAW = b"\x01" * 8


@pytest.mark.parametrize(
    "evil",
    [
        Reduce(FROMBUFFER, (RAW, lying_dtype(), (1,), "C")),
        Reduce(SCALAR, (lying_dtype(), RAW)),
        Reduce(rebuild_array, (RAW, lying_dtype(), (1,), "C", None)),
        Reduce(np.ndarray, ((1,), np.dtype("O"), RAW)),
        Reduce(np.ndarray, ((1,), lying_dtype(), RAW)),
    ],
    ids=["frombuffer", "scalar", "rebuild_array", "ndarray-object", "ndarray-lying"],
)
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_raw_bytes_never_become_object_pointers(tmp_path, evil, protocol):
    path = _write(tmp_path, [evil], protocol)
    _refused(load_in_child(path, allowed_globals=[]))


@pytest.mark.parametrize(
    "state",
    [
        (3, "<", None, None, None, 1 << 40, 8, 0),  # element size
        (3, "<", None, None, None, -1, -1, 63),  # object flags on a float
        (3, "|", None, ("a",), {"a": (np.dtype("f8"), 1 << 20)}, 8, 1, 16),  # offset
        (3, "|", (np.dtype("f8"), (1 << 30,)), None, None, 8, 8, 0),  # subarray
        (9, "<", None, None, None, -1, -1, 0),  # version
        "not a tuple",
    ],
)
def test_dtype_state_is_never_believed(tmp_path, state):
    args = ("V8", False, True) if state[3:4] == (("a",),) else ("f8", False, True)
    evil = Reduce(FROMBUFFER, (RAW, lying_dtype(state, args), (1,), "C"))
    message = _refused(load_in_child(_write(tmp_path, evil), allowed_globals=[]))
    assert "dtype" in message


@pytest.mark.parametrize(
    "dtype",
    [
        "f8", ">i4", "<U10", "S5", "V8", "O", "?", "c16", "f2", "M8[ns]", ">m8[2s]",
        [("a", "<i4"), ("b", "<f8")], np.dtype([("a", "u1"), ("b", "<f8")], align=True),
        {"names": ["a"], "formats": ["<i4"], "offsets": [4], "itemsize": 12},
        [("x", [("y", "u1")]), ("z", "O")], ("<f8", (2, 3)), [(("t", "a"), "<i4")],
        [("a", "<i4", (2,))], np.dtype("f8", metadata={"unit": "m"}),
    ],
    ids=repr,
)  # fmt: skip
@pytest.mark.parametrize("protocol", [2, 5])
def test_every_real_dtype_still_loads(tmp_path, dtype, protocol):
    dtype = np.dtype(dtype)
    array = np.zeros(3, dtype=dtype)
    value = {"array": array, "dtype": dtype, "again": dtype}
    data = pickle.dumps(value, protocol)
    (tmp_path / "p.pkl").write_bytes(data)
    joblet_persist.dump(value, tmp_path / "j")
    # what pickle itself gives (protocol 2 loses a non-native byte order)
    for path, expected in (
        (tmp_path / "p.pkl", pickle.loads(data)),
        (tmp_path / "j", value),
    ):
        loaded = load(path, allowed_globals=[], ensure_native_byte_order=False)
        assert loaded["dtype"] == dtype
        assert loaded["again"] is loaded["dtype"]
        assert loaded["dtype"].__reduce__() == dtype.__reduce__()
        assert loaded["array"].dtype == expected["array"].dtype
        assert loaded["array"].tobytes() == expected["array"].tobytes()


def test_builtin_dtypes_are_never_modified(tmp_path):
    # dtype('f8', copy=False) is numpy's float64 singleton: applying the BUILD
    # to it would make every float64 array of the process big-endian
    evil = lying_dtype((3, ">", None, None, None, -1, -1, 0), ("f8", False, False))
    path = _write(tmp_path, [evil])
    assert "dtype('>f8')" in load_in_child(path, allowed_globals=[])["value"]
    assert load(path, allowed_globals=[]) == [np.dtype(">f8")]
    assert np.dtype("f8").byteorder == "="
    assert np.zeros(1).dtype.byteorder == "="


def _joblib_array_file(state: bytes, data: bytes) -> bytes:
    """A joblib file with one array: the wrapper, its BUILD state, raw bytes."""
    wrapper = b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81"
    return b"\x80\x02" + wrapper + state + b"b" + data + b"."


def _state(**fields) -> bytes:
    return pickle.dumps(fields, 2)[2:-1]  # the dict's opcodes, no PROTO/STOP


@pytest.mark.parametrize("allowed", [None, []], ids=["trusted", "restricted"])
def test_mmap_r_plus_never_grows_the_file(tmp_path, allowed):
    path = tmp_path / "small.pkl"
    state = _state(
        subclass=np.ndarray, shape=(1 << 37,), order="C", dtype=np.dtype("f8"),
        allow_mmap=True,
    )  # fmt: skip
    path.write_bytes(_joblib_array_file(state, b"\x00" * 64))
    size = path.stat().st_size
    kwargs = {} if allowed is None else {"allowed_globals": allowed}
    message = _refused(
        load_in_child(path, mmap_mode="r+", **kwargs), "TruncatedFileError"
    )
    assert "truncated" in message
    assert path.stat().st_size == size


def test_joblib_wrapper_with_lying_dtype(tmp_path):
    state = pickle.dumps(
        {"subclass": np.ndarray, "shape": (1,), "order": "C", "dtype": lying_dtype(),
         "allow_mmap": False}, 2,
    )[2:-1]  # fmt: skip
    path = tmp_path / "w.pkl"
    path.write_bytes(_joblib_array_file(state, RAW))
    _refused(load_in_child(path, allowed_globals=[]))


def test_rebuild_array_checks_the_buffer_size(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"\x00" * 64)
    slot = MappedSlot(str(path), 0, 64, "r+")
    with pytest.raises(FormatError, match="8796093022208 bytes"):
        rebuild_array(slot, np.dtype("f8"), (1 << 40,), "C", None)
    assert path.stat().st_size == 64
    with pytest.raises(FormatError, match="object"):
        rebuild_array(bytearray(8), np.dtype("O"), (1,), "C", None)
    with pytest.raises(FormatError, match="16 bytes"):
        rebuild_array(bytearray(8), np.dtype("f8"), (2,), "C", None)
    assert rebuild_array(slot, np.dtype("f8"), (8,), "C", None).shape == (8,)


def test_build_on_the_joblib_wrapper_class_is_refused(tmp_path):
    # BUILD with a slot state on the class itself: NumpyArrayWrapper.__new__ = bytes
    evil = (
        b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n"
        b"N}X\x07\x00\x00\x00__new__cbuiltins\nbytes\ns\x86b."
    )
    (tmp_path / "evil.pkl").write_bytes(evil)
    joblib = pytest.importorskip("joblib")
    joblib.dump({"a": np.arange(5)}, tmp_path / "real.pkl")
    first, second, third = run_in_child(
        [
            load_request(tmp_path / "evil.pkl", allowed_globals=[]),
            load_request(tmp_path / "evil.pkl"),
            load_request(tmp_path / "real.pkl"),
        ]
    )
    _refused(first, "UnsafeGlobalError")
    _refused(second)
    assert "array([0, 1, 2, 3, 4])" in third["value"]


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("numpy.testing._private.utils", "measure"),
        ("numpy.testing", "measure"),
        ("numpy", "testing.measure"),
        ("numpy", "load"),
        ("numpy", "test"),
        ("numpy", "ndarray.__reduce__"),
    ],
)
def test_wildcard_covers_only_what_the_module_defines(tmp_path, module, name):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()"
    stream = (
        b"\x80\x04\x8c" + bytes([len(module)]) + module.encode()
        + b"\x8c" + bytes([len(name)]) + name.encode() + b"\x93"
        + b"X" + len(code).to_bytes(4, "little") + code.encode() + b"\x85R."
    )  # fmt: skip
    (tmp_path / "evil.pkl").write_bytes(stream)
    # in a child: were the gadget reached, numpy.test would run a test suite here
    for allowed in (["numpy.*"], [f"{module}.*"]):
        result = load_in_child(tmp_path / "evil.pkl", allowed_globals=allowed)
        _refused(result, "UnsafeGlobalError")
    assert not marker.exists()


def test_wildcard_still_allows_what_the_module_defines(tmp_path):
    value = [np.float32(1.5), np.int64(3), np.arange(3)]
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps(value, 4))
    loaded = load(tmp_path / "ok.pkl", allowed_globals=["numpy.*"])
    assert loaded[0] == np.float32(1.5)
    assert loaded[1] == 3


def test_python2_names_are_mapped_before_checking(tmp_path):
    value = [{1, 2}, frozenset({3}), b"xy", bytearray(b"z"), decimal.Decimal("1.5")]
    (tmp_path / "p2.pkl").write_bytes(pickle.dumps(value, 2))
    assert b"c__builtin__\nset" in (tmp_path / "p2.pkl").read_bytes()
    assert load(tmp_path / "p2.pkl", allowed_globals=[]) == value
    # a Python 2 spelling of a refused name is still refused
    (tmp_path / "evil.pkl").write_bytes(b"\x80\x02c__builtin__\neval\n(S'1'\ntR.")
    with pytest.raises(joblet_persist.UnsafeGlobalError, match=r"builtins\.eval"):
        load(tmp_path / "evil.pkl", allowed_globals=[])


@pytest.mark.parametrize(
    "evil",
    [
        Reduce(list, (range(3 * 10**8),)),
        Reduce(tuple, (range(10**18),)),
        Reduce(frozenset, (range(10**9),)),
        Reduce(bytes, (10**12,)),
        Reduce(bytearray, (10**11,)),
        Reduce(int, (decimal.Decimal("1e999999999"),)),
        Reduce(fractions.Fraction, ("1e999999999",)),
        Reduce(fractions.Fraction, (decimal.Decimal("1e-999999999"),)),
    ],
    ids=[
        "list-range", "tuple-range", "frozenset-range", "bytes", "bytearray",
        "int-decimal", "fraction-str", "fraction-decimal",
    ],
)  # fmt: skip
def test_huge_builds_are_refused_with_a_clear_error(tmp_path, evil):
    message = _refused(
        load_in_child(_write(tmp_path, evil), allowed_globals=[]), "SizeLimitError"
    )
    assert "limit" in message


@pytest.mark.parametrize(
    "evil",
    [
        Reduce(RECONSTRUCT, (np.ndarray, (10**12,), b"b")),
        Reduce(np.ndarray, ((10**6, 10**6), "f8")),
    ],
    ids=["reconstruct-without-state", "ndarray-call"],
)
def test_array_calls_pickle_never_writes_are_refused(tmp_path, evil):
    # _reconstruct only leaves a pending array for its BUILD, and numpy.ndarray
    # is never called: nothing is allocated, the stream is refused
    message = _refused(load_in_child(_write(tmp_path, evil), allowed_globals=[]))
    assert "pickle never writes" in message or "before its state is set" in message


def test_sizes_below_the_limits_still_load(tmp_path):
    value = [
        Reduce(list, (range(1000),)),
        Reduce(bytes, (100,)),
        Reduce(int, (decimal.Decimal("1e100"),)),
        Reduce(fractions.Fraction, ("3e-50",)),
    ]
    loaded = load(_write(tmp_path, value), allowed_globals=[])
    assert loaded == [
        list(range(1000)),
        bytes(100),
        10**100,
        fractions.Fraction(3, 10**50),
    ]
