"""The installed joblet-persist distribution is complete and consistent."""

import importlib.metadata
from importlib.resources import files

import joblet_persist


def test_version_matches_distribution_metadata():
    assert joblet_persist.__version__ == importlib.metadata.version("joblet-persist")


def test_ships_type_information():
    assert files("joblet_persist").joinpath("py.typed").is_file()
