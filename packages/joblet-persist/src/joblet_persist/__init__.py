"""joblet-persist: dump/load, a faster and safer pickle for large data.

>>> import joblet_persist, tempfile, os, shutil
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, "data.joblet")
>>> joblet_persist.dump({"a": [1, 2, 3]}, path)  # doctest: +ELLIPSIS
['...data.joblet']
>>> joblet_persist.load(path)
{'a': [1, 2, 3]}
>>> shutil.rmtree(folder)

numpy arrays are written raw and aligned, so ``load(path, mmap_mode='r')`` maps
them from the file; importing this package never imports numpy.
"""

from typing import TYPE_CHECKING

from joblet_hash.lazy import lazy_attributes

from ._allow_list import DEFAULT_ALLOWED_GLOBALS
from ._atomic import atomic_write, sweep_temporaries, temporary_name
from ._budget import RESTRICTED_FLOOR, RESTRICTED_RATIO
from ._bytes import dumps, loads
from ._compression.base import CompressorWrapper
from ._compression.registry import register_compressor
from ._dump import dump
from ._errors import (
    FormatError,
    SizeLimitError,
    TruncatedFileError,
    UnsafeGlobalError,
    UnsupportedVersionError,
)
from ._format import FORMAT_VERSION, code_region_length
from ._load import load
from ._sizes import parse_size
from ._types import MMAP_MODES, Compress

if TYPE_CHECKING:
    from ._inspect import inspect_file

__version__ = "0.1.0"


# inspect (and what it needs) is imported on first use, not with the package
__getattr__ = lazy_attributes(__name__, {"inspect_file": "._inspect"})


__all__ = [
    # persistence
    "dump",
    "load",
    "dumps",
    "loads",
    # compressors
    "register_compressor",
    "CompressorWrapper",
    # safety
    "DEFAULT_ALLOWED_GLOBALS",
    "RESTRICTED_RATIO",
    "RESTRICTED_FLOOR",
    "inspect_file",
    # errors
    "FormatError",
    "TruncatedFileError",
    "UnsupportedVersionError",
    "SizeLimitError",
    "UnsafeGlobalError",
    # format
    "FORMAT_VERSION",
    "code_region_length",
    # shared with joblet-memory and joblet-parallel
    "MMAP_MODES",
    "Compress",
    "parse_size",
    "atomic_write",
    "temporary_name",
    "sweep_temporaries",
    "__version__",
]
