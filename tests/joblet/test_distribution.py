"""The installed joblet distribution is complete and consistent."""

import importlib.metadata
from importlib.resources import files

import joblet


def test_version_matches_distribution_metadata():
    assert joblet.__version__ == importlib.metadata.version("joblet")


def test_ships_type_information():
    assert files("joblet").joinpath("py.typed").is_file()
