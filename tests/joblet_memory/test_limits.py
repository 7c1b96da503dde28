"""Size, count and age limits: parsing, eviction order, automatic enforcement."""

from __future__ import annotations

import datetime
import os
import time

import pytest

from joblet_memory import CacheItemInfo, Memory
from joblet_memory._limits import parse_age, parse_bytes, select_evictions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        (0, 0),
        (1000, 1000),
        ("500K", 500 * 1024),
        ("1.5G", int(1.5 * 1024**3)),
        ("2mb", 2 * 1024**2),
    ],
)
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("bad", ["lots", "-1", -5, 1.5j])
def test_parse_bytes_rejects(bad):
    with pytest.raises((ValueError, TypeError)):
        parse_bytes(bad)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (datetime.timedelta(days=1), 86400.0),
        (30, 30.0),
        ("30m", 1800.0),
        ("12h", 43200.0),
        ("7d", 604800.0),
    ],
)
def test_parse_age(value, seconds):
    assert parse_age(value) == seconds


def _item(name, size, last_access):
    return CacheItemInfo("f", name, name, size, last_access)


def test_eviction_order_is_least_recently_used_first():
    items = [
        _item("c", 10, 3.0),
        _item("a", 10, 1.0),
        _item("d", 10, 4.0),
        _item("b", 10, 2.0),
    ]
    assert [i.args_id for i in select_evictions(items, 10.0, bytes_limit=25)] == [
        "a",
        "b",
    ]
    assert [i.args_id for i in select_evictions(items, 10.0, items_limit=3)] == ["a"]
    assert [i.args_id for i in select_evictions(items, 10.0, age_limit=7.5)] == [
        "a",
        "b",
    ]
    assert select_evictions(items, 10.0, bytes_limit=100, items_limit=10) == []


def _fill(memory, n):
    cached = memory.cache(_payload)
    for i in range(n):
        cached(i)
    return cached


def _payload(i):
    return b"x" * 10_000 + bytes([i])


def _set_last_access(cached, i, when):
    store = cached.store_backend
    call_id = cached._call_id((i,), {})
    os.utime(os.path.join(store.item_location(call_id), "metadata.json"), (when, when))
    os.utime(os.path.join(store.item_location(call_id), "output.pkl"), (when, when))


def test_reduce_size_keeps_the_most_recently_used(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    cached = _fill(memory, 5)
    now = time.time()
    for i, age in enumerate([50, 10, 40, 20, 30]):
        _set_last_access(cached, i, now - age)
    removed = memory.reduce_size(items_limit=2)
    assert sorted(item.args_id for item in removed) == sorted(
        cached._call_id((i,), {})[1] for i in (0, 2, 4)
    )
    assert [cached.check_call_in_cache(i) for i in range(5)] == [
        False,
        True,
        False,
        True,
        False,
    ]


def test_a_hit_refreshes_last_access(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    cached = _fill(memory, 3)
    now = time.time()
    for i in range(3):
        _set_last_access(cached, i, now - 100 + i)
    cached(0)  # the oldest becomes the newest
    memory.reduce_size(items_limit=1)
    assert [cached.check_call_in_cache(i) for i in range(3)] == [True, False, False]


def test_age_limit(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    cached = _fill(memory, 3)
    _set_last_access(cached, 1, time.time() - 3 * 86400)
    memory.reduce_size(age_limit=datetime.timedelta(days=1))
    assert [cached.check_call_in_cache(i) for i in range(3)] == [True, False, True]


@pytest.mark.parametrize(
    "limits",
    [{"bytes_limit": 35_000}, {"items_limit": 3}],
)
def test_limits_hold_automatically_after_writes(tmp_path, limits):
    memory = Memory(tmp_path, verbose=0, **limits)
    cached = _fill(memory, 8)
    items = memory.store_backend.get_items()
    assert len(items) == 3
    assert sum(i.size for i in items) <= 35_000 or "items_limit" in limits
    # the three most recent survive
    assert [cached.check_call_in_cache(i) for i in range(8)] == [False] * 5 + [True] * 3


def test_reduce_size_without_limits_is_a_no_op(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    _fill(memory, 2)
    assert memory.reduce_size() == []
    assert len(memory.store_backend.get_items()) == 2


def test_bytes_limit_from_the_constructor(tmp_path):
    memory = Memory(tmp_path, verbose=0, bytes_limit="1M")
    assert memory.bytes_limit == 1024**2
