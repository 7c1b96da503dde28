"""``explain`` names each reason for a miss; ``cache_info`` counts what happened."""

from __future__ import annotations

import time

import pytest

from joblet_memory import CacheInfo, Memory, expires_after


def weigh(params, scale=1):
    return sum(params["weights"]) * scale


def test_a_hit(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(weigh)
    cached({"weights": [1, 2]})
    explanation = cached.explain({"weights": [1, 2]})
    assert explanation.hit
    assert explanation.reason == "hit"
    assert str(explanation).startswith("hit: the entry was computed ")


def test_no_entry_names_the_argument_path_that_differs(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(weigh)
    cached({"weights": [1, 2], "bias": 0})
    cached({"weights": [5, 6, 7], "bias": 1}, scale=3)
    explanation = cached.explain({"weights": [1, 3], "bias": 0})
    assert not explanation.hit
    assert explanation.reason == "no entry"
    assert "2 other entries of weigh" in explanation.summary
    # the closest entry comes first, with the exact path inside the argument
    assert "differs at params['weights'][1]" in explanation.details[0]
    assert "params['bias']" not in explanation.details[0]
    assert "scale" in explanation.details[1]


def test_no_entry_at_all(tmp_path):
    explanation = Memory(tmp_path, verbose=0).cache(weigh).explain({"weights": []})
    assert explanation.reason == "no entry"
    assert explanation.details == []


def test_expired(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(
        weigh, cache_validation_callback=expires_after(seconds=0.05)
    )
    cached({"weights": [1]})
    time.sleep(0.1)
    explanation = cached.explain({"weights": [1]})
    assert explanation.reason == "expired"
    assert "cache_validation_callback" in explanation.summary


def test_unreadable(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(weigh)
    cached({"weights": [1]})
    store = cached.store_backend
    call_id = cached._call_id(({"weights": [1]},), {})
    output = store.output_path(call_id)
    with open(output, "r+b") as handle:
        handle.truncate(10)
    explanation = cached.explain({"weights": [1]})
    assert explanation.reason == "unreadable"


def test_evicted(tmp_path):
    memory = Memory(tmp_path, verbose=0, items_limit=1)
    cached = memory.cache(weigh)
    cached({"weights": [1]})
    cached({"weights": [2]})  # the limit removes the first entry
    explanation = cached.explain({"weights": [1]})
    assert explanation.reason == "evicted"
    assert cached.cache_info().evictions == 1


def test_evicted_by_reduce_size(tmp_path):
    memory = Memory(tmp_path, verbose=0)
    cached = memory.cache(weigh)
    cached({"weights": [1]})
    assert len(memory.reduce_size(items_limit=0)) == 1
    assert cached.explain({"weights": [1]}).reason == "evicted"
    assert memory.cache_info().evictions == 1
    cached({"weights": [1]})
    assert cached.explain({"weights": [1]}).hit


def test_caching_off():
    explanation = Memory(None).cache(weigh).explain({"weights": [1]})
    assert not explanation.hit
    assert explanation.reason == "caching off"


def test_explain_runs_nothing(tmp_path):
    runs = []

    def f(x):
        runs.append(x)
        return x

    cached = Memory(tmp_path, verbose=0).cache(f)
    cached.explain(1)
    assert runs == []
    assert not cached.check_call_in_cache(1)


def test_cache_info_counts_hits_misses_stores_and_time_saved(tmp_path):
    memory = Memory(tmp_path, verbose=0)

    def slow(x):
        time.sleep(0.05)
        return x

    cached = memory.cache(slow)
    other = memory.cache(weigh)
    for x in (1, 1, 2, 1):
        cached(x)
    cached.call(2)
    other({"weights": [1]})
    info = cached.cache_info()
    assert (info.hits, info.misses, info.stores, info.evictions) == (2, 3, 3, 0)
    assert info.time_saved >= 2 * 0.05
    whole = memory.cache_info()
    assert (whole.hits, whole.misses, whole.stores) == (2, 4, 4)
    assert isinstance(whole, CacheInfo)


def test_counters_reach_the_store_for_the_cli(tmp_path):
    from joblet_memory._function_log import FunctionLog

    cached = Memory(tmp_path, verbose=0).cache(weigh)
    cached({"weights": [1]})
    cached({"weights": [1]})
    cached._counters.flush()
    stored = FunctionLog.read(cached.store_backend, cached.func_id).counters
    assert (stored.hits, stored.misses, stored.stores) == (1, 1, 1)


@pytest.mark.parametrize("reason", ["hit", "no entry"])
def test_explanations_print_one_summary_line(tmp_path, reason):
    cached = Memory(tmp_path, verbose=0).cache(weigh)
    cached({"weights": [1]})
    value = {"weights": [1]} if reason == "hit" else {"weights": [2]}
    text = str(cached.explain(value))
    assert text.splitlines()[0].startswith("hit:" if reason == "hit" else "miss:")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            {"hits": 3.0, "misses": 2, "stores": 1, "evictions": 4, "time_saved": 1},
            CacheInfo(3, 2, 1, 4, 1.0),
        ),
        # a damaged record in the store counts as nothing, never fails a listing
        ({"hits": "x", "misses": None, "time_saved": [1]}, CacheInfo()),
        (None, CacheInfo()),
        ("not a dict", CacheInfo()),
    ],
)
def test_counts_read_back_from_a_store_record(record, expected):
    info = CacheInfo.from_dict(record)
    assert info == expected
    assert [type(value) for value in info.to_dict().values()] == [int] * 4 + [float]
