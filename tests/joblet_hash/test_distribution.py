"""The installed joblet-hash distribution is complete and consistent."""

import importlib.metadata
from importlib.resources import files

import joblet_hash


def test_version_matches_distribution_metadata():
    assert joblet_hash.__version__ == importlib.metadata.version("joblet-hash")


def test_ships_type_information():
    assert files("joblet_hash").joinpath("py.typed").is_file()
