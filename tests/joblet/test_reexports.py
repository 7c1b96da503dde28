"""The meta-package re-exports each distribution's public API unchanged."""

import joblet
import joblet_hash


def test_hash_is_joblet_hash():
    assert joblet.hash is joblet_hash.hash


def test_everything_in_all_is_importable():
    for name in joblet.__all__:
        assert hasattr(joblet, name), name
