"""What a restricted load may import: the default allow-list, wildcards, gadgets.

A wildcard ``"pkg.mod.*"`` allows exactly the objects that ``pkg.mod`` itself
defines: the pickle must name ``pkg.mod`` as the module, and the object it
reaches must have ``__module__ == "pkg.mod"``. Submodules, names the module
imports from elsewhere, and dunder attributes reached through dotted names are
not covered. Known code-execution and file-access gadgets are refused even when
a wildcard covers them; only naming them one by one allows them.
"""

from __future__ import annotations

import _compat_pickle
from collections.abc import Iterable
from typing import Any

from ._errors import UnsafeGlobalError

#: Globals a restricted load reads without being told: each is rebuilt by
#: joblet-persist's own typed reconstructor (``_reconstructors``,
#: ``_numpy_rebuild``, ``_array_records``) from checked arguments, never called
#: with the file's arguments: builtin containers and values, datetime, Decimal
#: and Fraction, UUID, numpy arrays, dtypes and scalars, joblet's and joblib's
#: array records.
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
        "builtins.object",  # the base in copyreg._reconstructor(cls, object, None)
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
        "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    }
)

#: Modules whose every name is a known gadget (runs code, reads or writes files,
#: reaches arbitrary attributes or memory): refused even under a wildcard.
GADGET_MODULES: frozenset[str] = frozenset(
    {
        "bdb", "code", "codeop", "ctypes", "gc", "glob", "importlib",
        "inspect", "io", "_io", "marshal", "multiprocessing", "nt", "operator",
        "_operator", "os", "pathlib", "pdb", "pickle", "_pickle", "platform",
        "posix", "pty", "pydoc", "runpy", "shutil", "signal", "socket",
        "subprocess", "sys", "tempfile", "timeit", "types", "webbrowser",
        "zipimport", "joblib", "joblet_persist", "numpy.testing", "numpy.f2py",
        "numpy.distutils", "numpy.ctypeslib", "numpy.lib.format", "numpy.lib.npyio",
        "numpy.lib._npyio_impl", "numpy.lib._datasource", "numpy._pytesttester",
    }
)  # fmt: skip

#: Single names that are known gadgets, refused even under a wildcard.
GADGET_NAMES: frozenset[str] = frozenset(
    {
        "builtins.__build_class__", "builtins.__import__", "builtins.breakpoint",
        "builtins.compile", "builtins.delattr", "builtins.eval", "builtins.exec",
        "builtins.exit", "builtins.getattr", "builtins.globals", "builtins.help",
        "builtins.input", "builtins.locals", "builtins.open", "builtins.quit",
        "builtins.setattr", "builtins.type", "builtins.vars", "builtins.object",
        "numpy.load", "numpy.save", "numpy.savez", "numpy.savez_compressed",
        "numpy.savetxt", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromregex",
        "numpy.fromfile", "numpy.DataSource", "numpy.memmap", "numpy.test",
        "numpy.info", "numpy.show_config", "numpy.show_runtime", "numpy.seterr",
        "numpy.seterrcall", "numpy.setbufsize", "numpy.set_printoptions",
        "numpy.printoptions", "numpy.lib.stride_tricks.as_strided",
        "numpy.testing._private.utils.measure",
    }
)  # fmt: skip


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


def python3_name(module: str, name: str) -> tuple[str, str]:
    """The Python 3 name of a Python 2 global (``__builtin__.set`` ...), as pickle maps it."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def is_gadget(full_name: str) -> bool:
    """True when ``full_name`` is a known gadget or lies in a gadget module."""
    if full_name in GADGET_NAMES:
        return True
    parts = full_name.split(".")
    return any(".".join(parts[:n]) in GADGET_MODULES for n in range(1, len(parts)))


class AllowList:
    """A set of allowed ``module.qualname`` names; ``"module.*"`` allows what a module defines."""

    def __init__(self, extra: Iterable[Any]) -> None:
        if isinstance(extra, str):
            extra = [extra]
        names = {global_name(item) for item in extra}
        self.names = frozenset(
            DEFAULT_ALLOWED_GLOBALS | {n for n in names if not n.endswith(".*")}
        )
        self.modules = frozenset(n[:-2] for n in names if n.endswith(".*"))

    def check(self, module: str, name: str) -> None:
        """Refuse ``module.name`` unless listed by name or by its module's wildcard."""
        full = f"{module}.{name}"
        if full in self.names:
            return
        if module not in self.modules or is_gadget(full):
            raise UnsafeGlobalError(full)
        if any(part.startswith("__") for part in name.split(".")):
            raise UnsafeGlobalError(full)  # Outer.__init__.__globals__ and the like

    def check_resolved(self, module: str, name: str, obj: Any) -> None:
        """Refuse what a wildcard name reached outside the module itself.

        A protocol-4 name may be dotted (``Outer.Inner``), and pickle resolves it
        attribute by attribute, so ``("mypkg", "os.system")`` would reach
        ``os.system`` through ``mypkg``'s own ``import os``. Pickle always names
        an object by its defining module, so an object found through a module
        wildcard must be defined in that very module, and not be a gadget there.
        """
        if f"{module}.{name}" in self.names:
            return
        defined_in = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None) or name
        if (
            not isinstance(defined_in, str)
            or defined_in not in self.modules
            or is_gadget(f"{defined_in}.{qualname}")
        ):
            raise UnsafeGlobalError(f"{module}.{name}")


def make_allow_list(allowed_globals: Iterable[Any] | None) -> AllowList | None:
    return None if allowed_globals is None else AllowList(allowed_globals)
