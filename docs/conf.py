"""Sphinx configuration for the joblet documentation (``nox -s docs``)."""

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))
import gallery  # noqa: E402

sys.path.insert(0, str(DOCS.parent / "tools"))
import changelog  # noqa: E402

# The Changelog page includes the fragments of changes/ not yet released.
(DOCS / "generated").mkdir(exist_ok=True)
(DOCS / "generated" / "unreleased.inc").write_text(changelog.unreleased())

project = "joblet"
author = "The joblet developers"
copyright = "2026, the joblet developers"
# The one version of all distributions, from its home (the layers check keeps the
# six __version__ strings equal).
_init = (DOCS.parent / "packages/joblet/src/joblet/__init__.py").read_text()
release = version = re.search(r'^__version__ = "([^"]+)"', _init, re.M).group(1)

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",  # one page per public object (docs/generated/)
    "sphinx.ext.viewcode",  # the [source] links
    "sphinx.ext.napoleon",  # numpydoc-style docstrings
    "sphinx.ext.doctest",  # `sphinx-build -b doctest` runs every >>> example
    "sphinx.ext.intersphinx",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",  # the Performance page's charts
]

napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autosummary_generate = True
autosummary_imported_members = True
intersphinx_mapping = {}  # the build runs offline: no external inventories

exclude_patterns = ["_build", "examples", "**/GALLERY_HEADER.rst"]
templates_path = ["_templates"]
nitpicky = False

# -- HTML: the PyData theme ---------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"joblet {release}"
html_static_path = ["_static"]
html_css_files = ["joblet.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": True,
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": [], "changelog": []}
html_show_sourcelink = True

# -- Charts (``.. plot::``): code runs in docs/, so ``import bench_charts`` works.
plot_working_directory = str(DOCS)
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"font.size": 9}

# -- The gallery ---------------------------------------------------------------
# sphinx-gallery executes every docs/examples/plot_*.py during the HTML build and
# renders it as prose, code, printed output and figures, downloadable as .py and
# .ipynb; an example that fails or leaves files behind fails the build.
# `sphinx-build -D plot_gallery=0` (the doctest step of `nox -s docs`) skips
# running them again.
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "reset_modules": ("matplotlib", gallery.LeftoverCheck()),
    "reset_modules_order": "both",
    "download_all_examples": True,
    "remove_config_comments": True,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "min_reported_time": 1,
    "thumbnail_size": (320, 224),
    "default_thumb_file": str(DOCS / "_static" / "thumb.png"),
    "matplotlib_animations": False,
    "capture_repr": ("_repr_html_", "__repr__"),
}
