"""The installed joblet-dask distribution is complete and consistent."""

import importlib.metadata
from importlib.resources import files

import joblet_dask


def test_version_matches_distribution_metadata():
    assert joblet_dask.__version__ == importlib.metadata.version("joblet-dask")


def test_ships_type_information():
    assert files("joblet_dask").joinpath("py.typed").is_file()


def test_uses_only_public_names_of_joblet_parallel():
    import ast

    import joblet_parallel

    for source in files("joblet_dask").iterdir():
        if not source.name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "joblet_parallel"
            ):
                assert node.module == "joblet_parallel", (source.name, node.module)
                for alias in node.names:
                    assert alias.name in joblet_parallel.__all__, alias.name
