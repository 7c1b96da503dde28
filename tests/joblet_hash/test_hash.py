"""joblet_hash.hash on builtin and pure-Python values (no numpy needed)."""

from __future__ import annotations

import collections
import functools
import pickle
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from joblet_hash import FAST_HASH_NAME, HASH_NAMES, UnhashableObjectError, hash


def _fresh(text: str) -> str:
    """An equal string that is a different object (defeats interning)."""
    return "".join(list(text))


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm(self):
        return abs(self.x) + abs(self.y)


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


def module_function(x):
    return x


@pytest.fixture(params=HASH_NAMES)
def hash_name(request):
    return request.param


# --- equal values hash equal ---------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param({"a": 1, "b": 2}, {"b": 2, "a": 1}, id="dict-order"),
        pytest.param(
            {1: "x", "k": 2, (3,): None},
            {(3,): None, "k": 2, 1: "x"},
            id="dict-mixed-keys",
        ),
        pytest.param({"x", "y", "zz"}, {"zz", "y", "x"}, id="set-order"),
        pytest.param(
            {1, "a", (2, None), 3.5}, {3.5, (2, None), "a", 1}, id="set-mixed-types"
        ),
        pytest.param(
            frozenset({1, 9, 17}), frozenset({17, 9, 1}), id="frozenset-collisions"
        ),
        pytest.param(
            ["abc" * 3, "abc" * 3],
            [_fresh("abcabcabc"), _fresh("abcabcabc")],
            id="interning",
        ),
        pytest.param(Point(1, [2]), Point(1, [2]), id="object-state"),
        pytest.param(Slotted(1, "b"), Slotted(1, "b"), id="slots"),
        pytest.param(
            collections.defaultdict(list, {"a": [1], "b": [2]}),
            collections.defaultdict(list, {"b": [2], "a": [1]}),
            id="defaultdict",
        ),
    ],
)
def test_equal_values_hash_equal(left, right, hash_name):
    assert left is not right
    assert hash(left, hash_name=hash_name) == hash(right, hash_name=hash_name)


def test_attribute_assignment_order_does_not_matter():
    first, second = Point(0, 0), Point(0, 0)
    first.__dict__.clear()
    first.y, first.x = 2, 1
    second.x, second.y = 1, 2
    assert hash(first) == hash(second)


def test_shared_and_repeated_objects_hash_like_copies():
    shared = [1, "two", {"three": 3}]
    assert hash([shared, shared]) == hash(
        [[1, "two", {"three": 3}], [1, "two", {"three": 3}]]
    )
    inner = {"k": [1, 2]}
    assert hash({"a": inner, "b": inner}) == hash(
        {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}}
    )


# --- different values hash differently --------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (1, 1.0),
        (1, True),
        ("1", b"1"),
        ([1, 2], (1, 2)),
        ({1, 2}, frozenset({1, 2})),
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, [("a", 1)]),
        (collections.OrderedDict(a=1, b=2), collections.OrderedDict(b=2, a=1)),
        (Point(1, 2), Point(2, 1)),
        (Point(1, 2), Slotted(1, 2)),
        (module_function, Point),
        ([], [[]]),
        ("", None),
        (bytearray(b"x"), b"x"),
    ],
    ids=repr,
)
def test_different_values_hash_differently(left, right, hash_name):
    assert hash(left, hash_name=hash_name) != hash(right, hash_name=hash_name)


def test_ordered_dict_keeps_its_order_but_dict_does_not():
    assert hash({"a": 1, "b": 2}) == hash({"b": 2, "a": 1})
    assert hash(collections.OrderedDict(a=1, b=2)) != hash(
        collections.OrderedDict(b=2, a=1)
    )


# --- callables, classes, modules -----------------------------------------------------


def test_functions_and_classes_hash_by_qualified_name():
    assert hash(module_function) == hash(module_function)
    assert hash(Point) != hash(Slotted)
    assert hash(len) != hash(max)
    assert hash(pickle) == hash(sys.modules["pickle"])


def test_bound_methods_hash_by_owner_and_name():
    assert hash(Point(1, 2).norm) == hash(Point(1, 2).norm)
    assert hash(Point(1, 2).norm) != hash(Point(2, 2).norm)
    assert hash([1].append) != hash([2].append)


def test_partials_hash_their_arguments_whatever_the_keyword_order():
    left = functools.partial(module_function, 1, b=2, a=1)
    right = functools.partial(module_function, 1, a=1, b=2)
    assert hash(left) == hash(right)
    assert hash(left) != hash(functools.partial(module_function, 2, a=1, b=2))


def test_lambdas_and_nested_functions_hash_without_error():
    def nested(x):
        return x

    assert hash(nested) == hash(nested)
    assert hash(lambda x: x) != hash(nested)


# --- recursive structures ------------------------------------------------------------


def test_recursive_structures_hash_deterministically():
    def make_list():
        items: list = [1]
        items.append(items)
        return items

    def make_dict():
        mapping: dict = {"a": 1}
        mapping["self"] = mapping
        return mapping

    def make_object():
        point = Point(1, None)
        point.y = point
        return point

    for make in (make_list, make_dict, make_object):
        assert hash(make()) == hash(make())
    assert hash(make_list()) != hash(make_dict())


def test_deeply_nested_plain_lists():
    def build(depth):
        deep: list = []
        for _ in range(depth):
            deep = [deep, 1]
        return deep

    assert hash(build(200)) == hash(build(200))
    assert hash(build(200)) != hash(build(199))


# --- algorithms -------------------------------------------------------------------------


def test_every_algorithm_gives_a_hex_digest(hash_name):
    digest = hash({"x": [1, 2, 3]}, hash_name=hash_name)
    int(digest, 16)
    assert len(digest) >= 32


def test_algorithms_give_different_digests():
    digests = {name: hash("joblet", hash_name=name) for name in HASH_NAMES}
    assert len(set(digests.values())) == len(HASH_NAMES)
    assert FAST_HASH_NAME in HASH_NAMES


def test_unknown_hash_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown hash_name 'crc32'") as info:
        hash(1, hash_name="crc32")
    for name in HASH_NAMES:
        assert repr(name) in str(info.value)
    # joblib's wording, which code written against joblib may match
    assert "Valid options for 'hash_name' are" in str(info.value)


def test_unknown_hash_name_suggests_the_closest():
    with pytest.raises(ValueError, match=r"did you mean 'sha256'\?"):
        hash(1, hash_name="sha265")


def test_large_bytes_hash_by_content():
    data = bytes(range(256)) * 100_000
    assert hash(data) == hash(bytes(bytearray(data)))
    assert hash(data) != hash(data[:-1] + b"\x00")


# --- protocol 5 buffers ----------------------------------------------------------------


class BufferHolder:
    """Hands its data out as an out-of-band pickle buffer, like arrow or pandas."""

    def __init__(self, data: bytearray):
        self.data = data

    def __reduce_ex__(self, protocol):
        return (type(self), (pickle.PickleBuffer(self.data),))


def test_protocol_5_buffers_hash_by_content():
    payload = bytearray(b"x" * 10_000_000)
    assert hash(BufferHolder(payload)) == hash(BufferHolder(bytearray(payload)))
    changed = bytearray(payload)
    changed[-1] = 0
    assert hash(BufferHolder(payload)) != hash(BufferHolder(changed))


# --- unhashable arguments ----------------------------------------------------------------


class Model:
    def __init__(self):
        self.alpha = 0.5
        self.lock = threading.Lock()


def test_unhashable_object_error_names_type_and_path():
    with pytest.raises(UnhashableObjectError) as info:
        hash((1, {"model": Model()}))
    message = str(info.value)
    assert "obj[1]['model'].lock" in message
    assert "_thread.lock" in message
    assert info.value.path == "[1]['model'].lock"
    # Code that catches pickle's or Python's usual errors still works.
    assert isinstance(info.value, pickle.PicklingError)
    assert isinstance(info.value, TypeError)


def test_unhashable_error_root_can_be_renamed():
    with pytest.raises(UnhashableObjectError) as info:
        hash([Model()])
    info.value.root = "args"
    assert str(info.value).startswith("cannot hash args[0].lock")


@pytest.mark.parametrize(
    "make",
    [lambda: (x for x in range(3)), threading.Lock, lambda: socket.socket()],
    ids=["generator", "lock", "socket"],
)
def test_unhashable_builtins_raise_clear_errors(make):
    value = make()
    try:
        with pytest.raises(UnhashableObjectError, match="cannot hash obj"):
            hash({"key": [value]})
    finally:
        if isinstance(value, socket.socket):
            value.close()


# --- determinism across interpreters ---------------------------------------------------------

CROSS_PROCESS_VALUES = textwrap.dedent(
    """
    import collections
    values = [
        {"b": 1, "a": [1, 2.5, "x"], 3: None, (1, "t"): frozenset({"p", "q", 4})},
        {"alpha", "beta", 7, (1, 2), 2.5, None},
        collections.defaultdict(set, {"k": {"v", "w"}}),
        [("s%d" % i, i) for i in range(1000)],
        {frozenset({"a", 1}): {"x", "y", "z"}},
    ]
    """
)


def _digests_in_child(seed: str) -> str:
    code = CROSS_PROCESS_VALUES + textwrap.dedent(
        """
        from joblet_hash import hash, HASH_NAMES
        print([[hash(v, hash_name=n) for n in HASH_NAMES] for v in values])
        """
    )
    env = {"PYTHONHASHSEED": seed}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
        timeout=60,
        check=True,
    )
    return result.stdout


def test_hash_is_the_same_in_child_interpreters_with_other_hash_seeds():
    namespace: dict = {}
    exec(CROSS_PROCESS_VALUES, namespace)
    mine = str(
        [[hash(v, hash_name=n) for n in HASH_NAMES] for v in namespace["values"]]
    )
    assert _digests_in_child("1").strip() == mine
    assert _digests_in_child("12345").strip() == mine
