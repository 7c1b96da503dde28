"""Public names imported on first use (PEP 562), for a package's ``__init__``.

Each joblet distribution keeps its ``import`` cheap: a worker process or a
sibling distribution that needs one name must not pay for the modules behind
the others. A package lists where each lazy name lives and installs the
function this module builds as its ``__getattr__``; the first access imports
the home module and stores the value in the package, so later accesses are
plain attribute reads.

>>> import types, sys
>>> package = types.ModuleType("demo_package")
>>> sys.modules["demo_package"] = package
>>> package.__getattr__ = lazy_attributes("demo_package", {"dedent": "textwrap"})
>>> package.dedent("  x")
'x'
>>> "dedent" in vars(package)
True
>>> del sys.modules["demo_package"]
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports each name from its home on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``; it must be in ``sys.modules`` when a name
        is first used (it is, from inside its own ``__init__``).
    homes : mapping of str to str
        Public name -> the module that defines it, absolute or relative to
        ``package`` (``"._hash"``).

    Returns
    -------
    callable
        ``__getattr__(name)``: the value, or ``AttributeError`` for a name
        not in ``homes``.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, package), name)
        setattr(sys.modules[package], name, value)  # later reads skip this function
        return value

    return __getattr__
