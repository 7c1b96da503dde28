"""One cache for a cluster on a real S3 server: compute once, survive faults."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import warnings

import pytest

from joblet_memory import CacheWarning, Memory

pytestmark = pytest.mark.usefixtures("fsspec_required")

# Where computations leave one marker file each (a folder every process sees).
MARKERS = "JOBLET_TEST_MARKERS"


def slow_square(x):
    """Leaves a marker per computation, then takes long enough to overlap."""
    folder = pathlib.Path(os.environ[MARKERS])
    (folder / f"{x}-{uuid.uuid4().hex}").touch()
    time.sleep(0.3)
    return x * x


def negate(x):
    return -x


def computations(folder):
    counts: dict[int, int] = {}
    for marker in os.listdir(folder):
        key = int(marker.split("-")[0])
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.fixture
def markers(tmp_path, monkeypatch):
    folder = tmp_path / "markers"
    folder.mkdir()
    monkeypatch.setenv(MARKERS, str(folder))
    return folder


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dask_cluster_computes_each_argument_once(s3_cache, markers):
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    url, options = s3_cache
    cached = Memory(url, verbose=0, backend_options=options).cache(slow_square)
    arguments = [i % 10 for i in range(40)]
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=2,
            processes=True,
            dashboard_address=":0",
            worker_dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # pure=False: every task really runs, none is deduplicated by dask.
        futures = client.map(cached, arguments, pure=False)
        results = client.gather(futures)
    assert results == [x * x for x in arguments]
    assert computations(markers) == dict.fromkeys(range(10), 1)
    assert all(cached.check_call_in_cache(x) for x in range(10))


# One function, imported by the holder and by the process taking over, so both
# address the same entry (its key includes the function's code).
LEASE_MODULE = textwrap.dedent(
    """
    import os, time

    def hold(x):
        marker = os.environ.get("HOLD_MARKER")
        if marker:  # the holder: signal that it computes, then never finish
            open(marker, "w").close()
            time.sleep(600)
        return ("computed", x)
    """
)
HOLDER = textwrap.dedent(
    """
    import sys
    from joblet_memory import Memory
    sys.path.insert(0, sys.argv[3])
    from lease_module import hold

    Memory(sys.argv[1], verbose=0, backend_options=eval(sys.argv[2])).cache(hold)(1)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_killed_lease_holder_is_taken_over_after_expiry(
    s3_cache, tmp_path, monkeypatch
):
    url, options = s3_cache
    options = {**options, "lease_duration": 3.0, "lock_timeout": 120.0}
    (tmp_path / "lease_module.py").write_text(LEASE_MODULE)
    started = tmp_path / "started"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, repr(options), str(tmp_path)],
        # Its temporary files go to tmp_path: SIGKILL leaves them behind.
        env={**os.environ, "HOLD_MARKER": str(started), "TMPDIR": str(tmp_path)},
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert holder.poll() is None, "the lease holder exited early"
            assert time.monotonic() < deadline, "the lease holder never started"
            time.sleep(0.05)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    monkeypatch.syspath_prepend(str(tmp_path))
    from lease_module import hold

    memory = Memory(url, verbose=0, backend_options=options)
    store = memory.store_backend
    [lease] = [p for p in store.fs.find(store.root) if p.endswith("/lease")]
    started_waiting = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "waited ... computing here too"
        assert memory.cache(hold)(1) == ("computed", 1)
    assert time.monotonic() - started_waiting < 60
    assert not store.fs.exists(lease)  # released by the new holder
    assert len(store.get_items()) == 1


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_server_stopped_mid_call(start_another_seaweedfs, tmp_path):
    server = start_another_seaweedfs()
    bucket = server.new_bucket()
    folder = server.folder
    url = f"s3://{bucket}/cache"
    options = {**server.storage_options(), "lease_duration": 2.0}
    memory = Memory(url, verbose=0, backend_options=options)

    def stops_the_server(x):
        server.kill()  # the data folder stays
        return x + 1

    stops_the_server.__module__ = "fault_test"
    with pytest.warns(CacheWarning, match="returned uncached"):
        assert memory.cache(stops_the_server)(1) == 2
    # The same data folder, served again: nothing of that call is there.
    server.start()
    memory = Memory(url, verbose=0, backend_options=server.storage_options())
    store = memory.store_backend
    assert store.get_items() == []
    found = store.fs.find(store.root)
    assert not [p for p in found if p.endswith("/output.pkl")]
    assert folder == server.folder

    def plain(x):
        return x + 1

    plain.__module__ = "fault_test"
    assert memory.cache(plain)(1) == 2
    assert len(store.get_items()) == 1


@pytest.mark.timeout(120)
def test_an_unreachable_store_computes_with_one_warning(start_another_seaweedfs):
    """Each call while the store is down computes (as a local store would)."""
    server = start_another_seaweedfs()
    url = f"s3://{server.new_bucket()}/cache"
    options = {
        **server.storage_options(),
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    server.kill()
    memory = Memory(url, verbose=0, backend_options=options)

    async def negate_later(x):
        return -x

    negate_later.__module__ = "fault_test"
    forms = {
        "call": lambda: memory.cache(negate)(5),
        "call_and_shelve": lambda: memory.cache(negate).call_and_shelve(5).get(),
        "async": lambda: asyncio.run(memory.cache(negate_later)(5)),
    }
    for form, call in forms.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert call() == -5, form
        messages = [str(w.message) for w in caught]
        assert len(messages) == 1, (form, messages)
        assert "cannot be reached" in messages[0]
        assert issubclass(caught[0].category, CacheWarning)
    with pytest.warns(CacheWarning, match="cannot be reached"):
        assert not memory.cache(negate).check_call_in_cache(5)


@pytest.mark.timeout(120)
def test_corrupted_object_is_recomputed(s3_cache):
    url, options = s3_cache
    memory = Memory(url, verbose=0, backend_options=options)
    cached = memory.cache(negate)
    assert cached(-3) == 3
    [item] = memory.store_backend.get_items()
    path = f"{item.path}/output.pkl"
    data = memory.store_backend.fs.cat_file(path)
    memory.store_backend.fs.pipe_file(path, data[: len(data) // 2])
    with pytest.warns(CacheWarning, match=item.args_id):
        assert cached(-3) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached(-3) == 3


class LostRaceFS:
    """The lease was held when the put was refused, and released just after."""

    def pipe_file(self, path, data, mode="overwrite"):
        raise OSError(
            22, "At least one of the pre-conditions you specified did not hold"
        )

    def exists(self, path):
        return False


def test_refused_conditional_put_means_held_even_once_released():
    from joblet_memory._stores._leases import Lease

    assert Lease(LostRaceFS(), "b/lease", 60.0).try_create() is False


UPLOADER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from joblet_memory import Memory

    def large(n):  # more than 2 x 50 MiB: s3fs uploads it in parts
        return np.random.default_rng(0).random(n)

    large.__module__ = "upload_test"
    options = eval(sys.argv[2])
    Memory(sys.argv[1], verbose=0, backend_options=options).cache(large)(15_000_000)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_writer_killed_mid_upload_leaves_nothing_served(s3_cache, s3_bucket, tmp_path):
    pytest.importorskip("numpy")
    url, options = s3_cache
    uploader = subprocess.Popen(
        [sys.executable, "-c", UPLOADER, url, repr(options)],
        env={**os.environ, "TMPDIR": str(tmp_path)},  # its staged upload lands here
    )
    memory = Memory(url, verbose=0, backend_options=options)
    store = memory.store_backend
    prefix = url.split("/", 3)[3]
    try:
        deadline = time.monotonic() + 240
        while not [
            upload
            for upload in store.fs.list_multipart_uploads(s3_bucket)
            if upload["Key"].startswith(prefix)
        ]:
            assert uploader.poll() is None, "the upload ended before it was seen"
            assert time.monotonic() < deadline, "no multipart upload started"
            time.sleep(0.05)
        uploader.send_signal(signal.SIGKILL)  # mid-upload: parts sent, not completed
        uploader.wait(timeout=30)
    finally:
        if uploader.poll() is None:
            uploader.kill()
            uploader.wait()
    store.fs.invalidate_cache()
    assert store.get_items() == []
    assert not [p for p in store.fs.find(store.root) if p.endswith("/output.pkl")]


SLOW_CALLS: list[int] = []


def slower_than_the_lease(x):
    SLOW_CALLS.append(x)
    time.sleep(3.0)
    return x


@pytest.mark.timeout(60)
def test_a_live_holder_renews_its_lease_past_its_duration():
    import threading

    url = f"memory://joblet-{uuid.uuid4().hex}"
    options = {"lease_duration": 0.9, "lock_timeout": 30.0}
    cached = Memory(url, verbose=0, backend_options=options).cache(
        slower_than_the_lease
    )
    results = []
    first = threading.Thread(target=lambda: results.append(cached(1)))
    first.start()
    time.sleep(0.3)  # the first caller holds the lease and computes for 3 s
    results.append(cached(1))  # waits past three lease durations, then reads
    first.join()
    assert results == [1, 1]
    assert SLOW_CALLS == [1]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("claim", ["year 3000", "damaged"])
def test_a_lease_no_live_holder_could_write_is_stale_at_once(s3_cache, claim):
    """A forged far-future lease never makes a miss wait for lock_timeout."""
    url, options = s3_cache
    options = {**options, "lease_duration": 5.0, "lock_timeout": 600.0}
    memory = Memory(url, verbose=0, backend_options=options)
    cached = memory.cache(negate)
    store = memory.store_backend
    call_id = (cached.func_id, cached._call_id((4,), {})[1])
    lease_path = f"{store.root}/{call_id[0]}/{call_id[1]}/lease"
    body = (
        json.dumps({"owner": "forged", "expires": 32503680000.0})
        if claim == "year 3000"
        else "{not json"
    )
    store.fs.pipe_file(lease_path, body.encode())
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached(4) == -4
    assert time.monotonic() - started < 10
