"""The installed joblet-parallel distribution is complete and consistent."""

import importlib.metadata
from importlib.resources import files

import joblet_parallel


def test_version_matches_distribution_metadata():
    assert joblet_parallel.__version__ == importlib.metadata.version("joblet-parallel")


def test_ships_type_information():
    assert files("joblet_parallel").joinpath("py.typed").is_file()
