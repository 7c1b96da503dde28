"""Real local engines for the engine tests: Ray, Spark (local[2]) and ipyparallel.

Each is started once per session by the fixture of its name and registered
the way its users register it with joblib (the one line its documentation
gives); joblet then finds it by that name. These tests run in their own nox
session (``nox -s engines``): the engines are large and slow to start, so
the default suite leaves this folder out unless ``JOBLET_TEST_ENGINES=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

if os.environ.get("JOBLET_TEST_ENGINES") != "1":
    collect_ignore_glob = ["test_*.py"]

ENGINES = ["ray", "spark", "ipyparallel"]


def _start_ray() -> Iterator[str]:
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    register_ray()
    try:
        yield "ray"
    finally:
        ray.shutdown()


def _start_spark() -> Iterator[str]:
    pytest.importorskip("pyspark")
    joblibspark = pytest.importorskip("joblibspark")
    # Spark's Python workers must be this interpreter (with joblet installed).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("joblet-engine-tests")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    joblibspark.register_spark()
    try:
        yield "spark"
    finally:
        spark.stop()


def _start_ipyparallel() -> Iterator[str]:
    ipp = pytest.importorskip("ipyparallel")
    cluster = ipp.Cluster(n=2, log_level=40)
    client = cluster.start_and_connect_sync()
    client[:].use_cloudpickle()  # functions of test modules travel by value
    client.load_balanced_view().register_joblib_backend()
    try:
        yield "ipyparallel"
    finally:
        client.close()
        cluster.stop_cluster_sync()


_STARTERS = {
    "ray": _start_ray,
    "spark": _start_spark,
    "ipyparallel": _start_ipyparallel,
}


@pytest.fixture(scope="session", params=ENGINES)
def engine(request) -> Iterator[str]:
    """The name of a running engine's joblib backend (one engine at a time)."""
    starter = _STARTERS[request.param]()
    name = next(starter)
    try:
        yield name
    finally:
        next(starter, None)
