"""A pytest plugin that runs joblib's own test suite against joblet.

joblib ships its tests inside the package (``joblib/test/``). With this plugin
loaded (``pytest -p joblet_as_joblib <joblib's test folder>``), ``import joblib``
in those tests gives joblet instead: the top-level ``joblib`` module holds
joblet's public API, and each ``joblib.<submodule>`` the tests import (memory,
parallel, numpy_pickle, ...) serves the same names from the joblet
distribution that owns them. joblib's test helpers (``joblib.testing``,
``joblib.test.common``, ``joblib.test.data``) stay joblib's own.

What the tests reach that joblet does not have (joblib's private helpers such
as ``joblib.memory._build_func_identifier``) is a :class:`JoblibInternal`
placeholder: using it raises, and the test is reported as skipped with the
name it needed, since it checks joblib's implementation rather than its
behaviour. Every other failure is a real difference; each known one is listed
in :mod:`expected_failures` with the reason, and marked as an expected
failure (strict: a listed test that starts passing fails the run, so the list
stays true).
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

import joblib as _joblib  # the real package, for its test helpers and data
import joblib._multiprocessing_helpers
import joblib.test
import joblib.test.common
import joblib.testing
import pytest
from expected_failures import EXPECTED_FAILURES, NOT_RUN

import joblet
import joblet_hash
import joblet_memory
import joblet_parallel
import joblet_persist

# The folder of joblib's tests: a private attribute read there is the test's.
_JOBLIB_TESTS = os.path.dirname(os.path.abspath(joblib.test.__file__))

# joblib's helper modules the tests import, kept as they are.
KEPT = ("testing", "test", "_multiprocessing_helpers")

# The joblib modules the tests import, and the joblet modules whose public
# names serve them (first match wins).
SERVED_BY: dict[str, tuple[types.ModuleType, ...]] = {
    "memory": (joblet_memory, joblet),
    "parallel": (joblet_parallel, joblet),
    "hashing": (joblet_hash, joblet),
    "numpy_pickle": (joblet_persist, joblet),
    "numpy_pickle_utils": (joblet_persist,),
    "numpy_pickle_compat": (joblet_persist,),
    "compressor": (joblet_persist, joblet),
    "func_inspect": (joblet_memory,),
    "_store_backends": (joblet_memory, joblet),
    "_parallel_backends": (joblet_parallel, joblet),
    "logger": (joblet,),
    "disk": (),
    "_utils": (),
    "executor": (),
    "pool": (),
    "_memmapping_reducer": (),
    "backports": (),
    "_dask": (),
    "_cloudpickle_wrapper": (joblet_parallel,),
}

# joblib names whose joblet counterpart has another name.
RENAMED = {"JobLibCollisionWarning": joblet_memory.JobletCollisionWarning}


class JoblibInternal:
    """Stands for a joblib name joblet does not have; any use of it raises."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise JoblibInternalUsed(self.name)

    __call__ = __iter__ = __getitem__ = __setitem__ = __len__ = _refuse
    __contains__ = __mro_entries__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mod__ = __rmod__ = _refuse

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise JoblibInternalUsed(f"{self.name}.{attribute}")


class JoblibInternalUsed(NotImplementedError):
    """A test used a joblib name that joblet does not provide."""


def _module(name: str, sources: tuple[types.ModuleType, ...], strict: bool) -> Any:
    module = (_ParallelModule if name == "joblib.parallel" else types.ModuleType)(name)

    def lookup(attribute: str) -> Any:
        # pytest probes modules for its hooks and setup functions: not ours.
        if attribute.startswith(("__", "pytest_", "setup", "teardown")):
            raise AttributeError(attribute)
        if attribute in RENAMED:
            return RENAMED[attribute]
        for source in sources:
            if attribute in getattr(source, "__all__", ()) or (
                not attribute.startswith("_") and hasattr(source, attribute)
            ):
                return getattr(source, attribute)
        if strict:
            raise AttributeError(f"joblet has no {attribute!r}")
        return JoblibInternal(f"{name}.{attribute}")

    module.__getattr__ = lookup  # type: ignore[method-assign]
    return module


def _backend_class(name: str) -> type:
    """The class of joblet's backend for ``name`` (through the public API)."""
    with joblet.parallel_config(backend=name):
        backend, _ = joblet.get_active_backend()
    return type(backend)


class _Backends(dict):  # type: ignore[type-arg]
    """joblib.parallel.BACKENDS: joblet's backend class for each name, live.

    A name registered with ``register_parallel_backend`` appears here too, as
    in joblib's registry.
    """

    def __missing__(self, name: str) -> type:
        try:
            return _backend_class(name)
        except ValueError:
            raise KeyError(name) from None

    def __contains__(self, name: object) -> bool:
        try:
            self[name]
        except (KeyError, TypeError):
            return False
        return True


class _ParallelModule(types.ModuleType):
    """joblib.parallel; a test that restores ``DEFAULT_BACKEND`` restores joblet's."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "DEFAULT_BACKEND" and "BACKENDS" in self.__dict__:
            joblet.register_parallel_backend(
                value, self.__dict__["BACKENDS"][value], make_default=True
            )
        super().__setattr__(name, value)


def _install() -> None:
    top = _module("joblib", (joblet,), strict=True)
    top.__path__ = _joblib.__path__  # joblib.test.* are the real files
    top.__file__ = _joblib.__file__
    top.__version__ = _joblib.__version__
    for kept in KEPT:
        setattr(top, kept, getattr(_joblib, kept))
    for name, sources in SERVED_BY.items():
        module = _module(f"joblib.{name}", sources, strict=False)
        sys.modules[f"joblib.{name}"] = module
        setattr(top, name, module)
    backends = _Backends(
        (name, _backend_class(name))
        for name in ("loky", "multiprocessing", "threading", "sequential")
    )
    parallel = sys.modules["joblib.parallel"]
    parallel.BACKENDS = backends
    parallel.DEFAULT_BACKEND = "loky"
    parallel.mp = joblib._multiprocessing_helpers.mp
    for joblib_name, key in (
        ("LokyBackend", "loky"),
        ("MultiprocessingBackend", "multiprocessing"),
        ("ThreadingBackend", "threading"),
        ("SequentialBackend", "sequential"),
    ):
        setattr(sys.modules["joblib._parallel_backends"], joblib_name, backends[key])
    # joblib's compressor registry, by the names both libraries know; what a
    # test reads from an entry is joblib's implementation.
    sys.modules["joblib.compressor"]._COMPRESSORS = {
        name: JoblibInternal(f"joblib.compressor._COMPRESSORS[{name!r}]")
        for name in ("zlib", "gzip", "bz2", "lzma", "xz", "lz4")
    }
    sys.modules["joblib"] = top


_install()


def _listed(item: pytest.Item, table: dict[str, str] | set[str]) -> str | None:
    """The key of ``item`` in ``table``: its whole id, or the id of every parameter."""
    test_id = item.nodeid.rpartition("/")[2]  # test_memory.py::Class::test[param]
    for key in (test_id, test_id.partition("[")[0]):
        if key in table:
            return key
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        key = _listed(item, EXPECTED_FAILURES)
        if key is not None:
            run = _listed(item, NOT_RUN) is None
            marker = pytest.mark.xfail(
                reason=EXPECTED_FAILURES[key], strict=True, run=run
            )
            item.add_marker(marker)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or report.passed:
        return
    internal = _joblib_internal(call.excinfo.value)
    if internal is not None:
        report.outcome = "skipped"
        report.longrepr = (
            str(item.path),
            item.location[1] or 0,
            f"uses joblib's {internal}",
        )
        if hasattr(report, "wasxfail"):
            del report.wasxfail


def _joblib_internal(error: BaseException | None) -> str | None:
    """The joblib internal a failure comes from, if it does.

    Either a placeholder was used, or joblib's test itself read a private
    attribute of a joblet object (``memorized._get_args_id``): both test
    joblib's implementation, not its behaviour. A private attribute missing
    inside joblet's own code is a failure like any other.
    """
    while error is not None:
        if isinstance(error, JoblibInternalUsed):
            return str(error)
        if isinstance(error, AttributeError) and _read_by_the_test(error):
            return f"private attribute {type(error.obj).__name__}.{error.name}"
        error = error.__cause__ or error.__context__
    return None


def _read_by_the_test(error: AttributeError) -> bool:
    """Whether ``error`` is for a private name, raised in a frame of joblib's
    test folder (not inside joblet)."""
    if not (isinstance(error.name, str) and error.name.startswith("_")):
        return False
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next  # the innermost frame raised it
    if frame is None:
        return False
    return frame.tb_frame.f_code.co_filename.startswith(_JOBLIB_TESTS + os.sep)
