"""The installed joblet-memory distribution is complete and consistent."""

import importlib.metadata
from importlib.resources import files

import joblet_memory


def test_version_matches_distribution_metadata():
    assert joblet_memory.__version__ == importlib.metadata.version("joblet-memory")


def test_ships_type_information():
    assert files("joblet_memory").joinpath("py.typed").is_file()
