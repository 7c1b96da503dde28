"""joblet_hash.names: the one wording of an unknown name, with a suggestion."""

from __future__ import annotations

import pytest

from joblet_hash.names import suggest_name, unknown_name_message

BACKENDS = ["loky", "threading", "multiprocessing", "sequential", "dask"]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("lokky", "loky"),
        ("threads", "threading"),
        ("LOKY", "loky"),
        ("multiprocesing", "multiprocessing"),
        ("dsak", "dask"),
    ],
)
def test_a_slip_suggests_the_meant_name(typed: str, meant: str) -> None:
    assert suggest_name(typed, BACKENDS) == meant
    assert f"did you mean {meant!r}?" in unknown_name_message(
        "backend", typed, BACKENDS
    )


@pytest.mark.parametrize("typed", ["spark-cluster-xyz", 42, None])
def test_nothing_close_suggests_nothing(typed: object) -> None:
    assert suggest_name(typed, BACKENDS) is None
    message = unknown_name_message("backend", typed, BACKENDS)
    assert "did you mean" not in message
    assert message.startswith(f"unknown backend {typed!r}")


def test_the_message_lists_every_known_name_sorted() -> None:
    message = unknown_name_message("compressor", "zip", ["zlib", "lz4", "bz2"])
    assert message.endswith("known: 'bz2', 'lz4', 'zlib'")


def test_no_known_names_says_none() -> None:
    assert unknown_name_message("store backend", "s3", []).endswith("known: none")
