"""Sphinx configuration for the joblet documentation (``nox -s docs``)."""

import json
import re
import sys
import zlib
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
# Signatures show defaults as written in the source (``n_jobs=None``, and a
# sentinel by its name: ``parallel_config(backend=_UNSET, ...)``), not the repr
# of the evaluated object, which for parallel_config's "not given" sentinels
# read ``<object object at 0x...>``. The source is read when the page is built.
autodoc_preserve_defaults = True
autosummary_generate = True
autosummary_imported_members = True

# -- Links into the Python and numpy documentation (intersphinx) ---------------
# The build runs offline (CI has no network), so it never downloads the
# projects' objects.inv: it writes small inventories of its own, from the
# tables below, into docs/generated/ and points intersphinx at them. A type,
# exception or ``:class:``/``:func:``/``:mod:`` reference to a name listed here
# links to docs.python.org or numpy.org; any other stays plain text, as before,
# without a warning. To link a new name, add it to its line (role, page, names:
# each name's anchor on the page is the name itself, or module-<name> for a
# module). With a network, the real inventories can replace these: set the
# second member of each mapping entry to None.
_INVENTORIES = {
    "python": (
        "https://docs.python.org/3",
        """
        py:class library/stdtypes.html str bytes bytearray memoryview list dict tuple set frozenset range
        py:class library/functions.html int float bool complex object type slice
        py:data library/constants.html None True False Ellipsis NotImplemented
        py:function library/functions.html open hash repr isinstance callable iter len print
        py:exception library/exceptions.html BaseException Exception ValueError TypeError KeyError IndexError LookupError OSError FileNotFoundError FileExistsError PermissionError IsADirectoryError RuntimeError TimeoutError ImportError ModuleNotFoundError MemoryError NotImplementedError EOFError AttributeError KeyboardInterrupt Warning UserWarning DeprecationWarning RuntimeWarning
        py:module library/pickle.html pickle
        py:class library/pickle.html pickle.Pickler pickle.Unpickler pickle.PickleBuffer
        py:exception library/pickle.html pickle.PickleError pickle.PicklingError pickle.UnpicklingError
        py:function library/pickle.html pickle.dump pickle.dumps pickle.load pickle.loads
        py:module library/logging.html logging
        py:class library/logging.html logging.Logger logging.Handler
        py:module library/os.html os
        py:class library/os.html os.PathLike
        py:module library/pathlib.html pathlib
        py:class library/pathlib.html pathlib.Path pathlib.PurePath
        py:module library/datetime.html datetime
        py:class library/datetime.html datetime.timedelta datetime.datetime
        py:module library/collections.abc.html collections.abc
        py:class library/collections.abc.html collections.abc.Callable collections.abc.Iterable collections.abc.Iterator collections.abc.Generator collections.abc.Mapping collections.abc.MutableMapping collections.abc.Sequence collections.abc.Hashable
        py:class library/contextlib.html contextlib.AbstractContextManager
        py:class library/abc.html abc.ABC
        py:module library/concurrent.futures.html concurrent.futures
        py:class library/concurrent.futures.html concurrent.futures.Executor concurrent.futures.ProcessPoolExecutor concurrent.futures.ThreadPoolExecutor concurrent.futures.Future
        py:module library/multiprocessing.html multiprocessing
        py:class library/multiprocessing.html multiprocessing.pool.Pool
        py:module library/threading.html threading
        py:class library/threading.html threading.Thread threading.Event
        py:module library/tempfile.html tempfile
        py:function library/tempfile.html tempfile.gettempdir tempfile.mkdtemp
        py:module library/mmap.html mmap
        py:class library/mmap.html mmap.mmap
        py:module library/zlib.html zlib
        py:module library/bz2.html bz2
        py:module library/lzma.html lzma
        py:module library/gzip.html gzip
        py:module library/hashlib.html hashlib
        py:module library/warnings.html warnings
        py:module library/difflib.html difflib
        py:class library/functools.html functools.partial
        py:class library/io.html io.IOBase io.BufferedIOBase io.RawIOBase io.BytesIO
        py:class library/typing.html typing.Any typing.NamedTuple
        py:class library/uuid.html uuid.UUID
        py:class library/decimal.html decimal.Decimal
        """,
        # The pickle exceptions are defined in the C module _pickle, which is
        # the __module__ autodoc shows: documented as pickle.<name>.
        {
            "_pickle.PicklingError": "pickle.PicklingError",
            "_pickle.UnpicklingError": "pickle.UnpicklingError",
        },
    ),
    "numpy": (
        "https://numpy.org/doc/stable",
        """
        py:module reference/index.html numpy
        py:class reference/generated/numpy.ndarray.html numpy.ndarray
        py:class reference/generated/numpy.memmap.html numpy.memmap
        py:class reference/generated/numpy.dtype.html numpy.dtype
        py:function reference/generated/numpy.load.html numpy.load
        py:function reference/generated/numpy.save.html numpy.save
        py:function reference/generated/numpy.empty.html numpy.empty
        py:function reference/generated/numpy.asarray.html numpy.asarray
        py:class reference/random/generator.html numpy.random.Generator
        py:function reference/random/generator.html numpy.random.default_rng
        py:class reference/random/legacy.html numpy.random.RandomState
        """,
        {},
    ),
}


def _write_inventory(name: str, table: str, aliases: dict[str, str]) -> Path:
    """An objects.inv (Sphinx inventory version 2) of the names in ``table``."""
    lines = []
    targets: dict[str, tuple[str, str]] = {}
    for row in table.split("\n"):
        if not row.strip():
            continue
        role, page, *names = row.split()
        for item in names:
            anchor = f"module-{item}" if role == "py:module" else item
            targets[item] = (role, f"{page}#{anchor}")
            lines.append(f"{item} {role} 1 {page}#{anchor} -")
    for alias, target in aliases.items():
        role, uri = targets[target]
        lines.append(f"{alias} {role} 1 {uri} {target}")
    header = (
        f"# Sphinx inventory version 2\n# Project: {name}\n# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    path = DOCS / "generated" / f"{name}-objects.inv"
    path.write_bytes(
        header.encode() + zlib.compress(("\n".join(lines) + "\n").encode())
    )
    return path


intersphinx_mapping = {
    name: (url, str(_write_inventory(name, table, aliases)))
    for name, (url, table, aliases) in _INVENTORIES.items()
}
intersphinx_disabled_reftypes = ["std:*"]  # only Python objects, not pages

exclude_patterns = ["_build", "examples", "**/GALLERY_HEADER.rst"]
templates_path = ["_templates"]
nitpicky = False

# -- HTML: the PyData theme ---------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"joblet {release}"
html_static_path = ["_static"]
html_css_files = ["joblet.css"]


def _repository_url() -> str | None:
    """The repository the packages declare (``[project.urls]``), if any.

    The header shows a link to it. No distribution declares one yet: add
    ``Repository = "https://..."`` under ``[project.urls]`` in the packages'
    pyproject.toml files (the joblet meta-package's is read) and the link
    appears; until then the header has none rather than a made-up address.
    """
    try:
        import tomllib
    except ImportError:  # Python 3.10 builds the site without the link
        return None
    pyproject = DOCS.parent / "packages" / "joblet" / "pyproject.toml"
    urls = tomllib.loads(pyproject.read_text()).get("project", {}).get("urls", {})
    for key in ("Repository", "Source", "Source Code", "Homepage"):
        if key in urls:
            return urls[key]
    return None


REPOSITORY_URL = _repository_url()
_repository_links = []
if REPOSITORY_URL:
    _repository_links.append(
        {
            "name": "Source repository",
            "url": REPOSITORY_URL,
            "icon": "fa-brands fa-github"
            if "github.com" in REPOSITORY_URL
            else "fa-solid fa-code-branch",
        }
    )

html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": True,
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    # Page titles are long: more than a few links wrap the header onto two rows.
    "header_links_before_dropdown": 4,
    "icon_links": _repository_links,
}
# No left (primary) sidebar on any page: the header holds the navigation, and
# the sidebar, empty on most pages, took width from the text and made code
# blocks scroll sideways.
html_sidebars = {"**": []}
html_show_sourcelink = True

# -- The benchmark run behind the Performance page ------------------------------
# Its date, machine and load come from docs/bench/latest.json, the file the
# charts are drawn from, so the text and the charts name the same run.
_bench = json.loads((DOCS / "bench" / "latest.json").read_text())
rst_epilog = f"""
.. |bench_date| replace:: {_bench["date"]}
.. |bench_machine| replace:: {_bench["machine"]}
"""

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
