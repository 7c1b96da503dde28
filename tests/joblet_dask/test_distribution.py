"""The installed joblet-dask distribution is complete and consistent."""

import importlib.metadata
from importlib.resources import files

import joblet_dask


def test_version_matches_distribution_metadata():
    assert joblet_dask.__version__ == importlib.metadata.version("joblet-dask")


def test_ships_type_information():
    assert files("joblet_dask").joinpath("py.typed").is_file()
