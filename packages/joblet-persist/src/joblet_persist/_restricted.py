"""Restricted loading: import only globals on an allow-list."""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

from ._errors import UnsafeGlobalError

#: Globals a restricted load imports without being told: builtin containers and
#: values, numpy arrays, dtypes and scalars, and joblet's own array rebuild.
DEFAULT_ALLOWED_GLOBALS: frozenset[str] = frozenset(
    {
        "builtins.bool",
        "builtins.bytearray",
        "builtins.bytes",
        "builtins.complex",
        "builtins.dict",
        "builtins.float",
        "builtins.frozenset",
        "builtins.int",
        "builtins.list",
        "builtins.range",
        "builtins.set",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "_codecs.encode",  # how protocols 0-2 store bytes
        "copyreg._reconstructor",  # protocols 0-1 instances; the classes are checked too
        "collections.OrderedDict",
        "collections.deque",
        "datetime.date",
        "datetime.datetime",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        "numpy.ndarray",
        "numpy.memmap",
        "numpy.dtype",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "joblet_persist._numpy_io.rebuild_array",
        "joblib.numpy_pickle.NumpyArrayWrapper",
    }
)


def global_name(item: Any) -> str:
    """``"module.qualname"`` for a string (kept as is), class or function."""
    if isinstance(item, str):
        return item
    module = getattr(item, "__module__", None)
    qualname = getattr(item, "__qualname__", None)
    if not module or not qualname:
        raise TypeError(
            f"allowed_globals items must be 'module.qualname' strings, classes or "
            f"functions; got {item!r}"
        )
    return f"{module}.{qualname}"


class AllowList:
    """A set of allowed ``module.qualname`` names; ``"module.*"`` allows a module."""

    def __init__(self, extra: Iterable[Any]) -> None:
        if isinstance(extra, str):
            extra = [extra]
        names = {global_name(item) for item in extra}
        self.names = frozenset(
            DEFAULT_ALLOWED_GLOBALS | {n for n in names if not n.endswith(".*")}
        )
        self.modules = tuple(n[:-2] for n in names if n.endswith(".*"))

    def check(self, module: str, name: str) -> None:
        full = f"{module}.{name}"
        if full in self.names:
            return
        if any(module == m or module.startswith(m + ".") for m in self.modules):
            return
        raise UnsafeGlobalError(full)


def make_allow_list(allowed_globals: Iterable[Any] | None) -> AllowList | None:
    return None if allowed_globals is None else AllowList(allowed_globals)


class RestrictedUnpickler(pickle.Unpickler):
    """The C unpickler, refusing globals that are not on ``allow``."""

    def __init__(self, file: Any, allow: AllowList, buffers: Any = None) -> None:
        super().__init__(file, buffers=buffers)
        self._allow = allow

    def find_class(self, module: str, name: str) -> Any:
        self._allow.check(module, name)
        return super().find_class(module, name)
