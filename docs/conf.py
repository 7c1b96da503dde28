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

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = "joblet"
nitpicky = False

# The gallery: docs/examples/*.rst show each docs/examples/plot_*.py and the
# output it printed, kept in _build/gallery by docs/gallery.py (the first step of
# `nox -s docs`). A plain sphinx-build runs the examples whose output is missing
# or older than the script, so the pages never show stale output.
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gallery  # noqa: E402

if gallery.stale():
    gallery.run(gallery.stale())
    if gallery.stale():
        raise RuntimeError(
            f"gallery examples failed: {[s.name for s in gallery.stale()]}"
        )
# The compressors plot needs matplotlib (installed by `nox -s docs`, which also
# requires it); without it the page says so instead of showing the figure.
if (gallery.DEFAULT_OUTPUT / "compressors.png").exists():
    _plot = (
        ".. image:: /_build/gallery/compressors.png\n"
        "   :alt: Dump and load durations, and file sizes, per compressor\n"
    )
else:
    _plot = (
        "(The plot is drawn when matplotlib is installed, as ``nox -s docs`` does.)\n"
    )
(gallery.DEFAULT_OUTPUT / "compressors_plot.rst").write_text(_plot)
