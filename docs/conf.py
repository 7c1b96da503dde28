"""Sphinx configuration for the joblet documentation (``nox -s docs``)."""

project = "joblet"
author = "The joblet developers"
copyright = "2026, the joblet developers"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # numpydoc-style docstrings
    "sphinx.ext.doctest",  # `sphinx-build -b doctest` runs every >>> example
    "sphinx.ext.intersphinx",
]

napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_typehints = "description"
autodoc_member_order = "bysource"
intersphinx_mapping = {}  # the build runs offline: no external inventories

exclude_patterns = ["_build", "architecture.md"]
html_theme = "alabaster"
html_title = "joblet"
nitpicky = False
