"""Many threads, one Memory: each key computed once, every result right."""

from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from joblet_memory import Memory

computed: collections.Counter[int] = collections.Counter()
_lock = threading.Lock()


def slow_square(x):
    with _lock:
        computed[x] += 1
    time.sleep(0.05)  # long enough for the other threads to miss too
    return x * x


@pytest.mark.timeout(120)
@pytest.mark.parametrize("compress", [False, 3])
def test_threads_sharing_a_memory_compute_each_key_once(tmp_path, compress):
    computed.clear()
    memory = Memory(tmp_path, verbose=0, compress=compress)
    cached = memory.cache(slow_square)
    keys = [i % 5 for i in range(16 * 50)]  # 16 threads x 50 calls, 5 keys

    def call(x):
        return x, cached(x)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, keys))
    assert all(value == x * x for x, value in results)
    assert computed == dict.fromkeys(range(5), 1), computed
    info = cached.cache_info()
    assert info.misses == 5
    assert info.hits + info.misses == len(keys)


@pytest.mark.timeout(120)
def test_threads_each_with_its_own_memory_object(tmp_path):
    """As separate libraries in one process would: a Memory each, one folder."""
    computed.clear()

    def call(x):
        return Memory(tmp_path, verbose=0).cache(slow_square)(x)

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(call, [3] * 64)) == [9] * 64
    assert computed == {3: 1}
