"""Dependency-aware invalidation: one test per row of "What invalidates the cache".

Each test writes a small user package to ``tmp_path``, caches a function of it,
rewrites one file and re-imports the package (as a new interpreter would see
it), then checks whether the call is still a hit.
"""

from __future__ import annotations

import importlib
import linecache
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from joblet_memory import Memory

MAIN = """
from . import helpers
from .helpers import scale

THRESHOLD = 0.3
UNUSED = 1


def inner(x):
    return x * 2


def middle(x):
    return inner(x) + 1


class Model:
    def __init__(self, k):
        self.k = k

    def predict(self, x):
        return self._step(x) * self.k

    def _step(self, x):
        return x + 1


def compute(x):
    total = middle(x) + helpers.clean(x) + scale(x)
    return total + (x > THRESHOLD) + Model(2).predict(x)


def ping(n):
    return 0 if n <= 0 else pong(n - 1)


def pong(n):
    return 1 if n <= 0 else ping(n - 1)


def with_closure_and_default():
    def step(x):
        return x - 1

    def run(x, fn=inner):
        return step(fn(x))

    return run


closured = with_closure_and_default()
"""

HELPERS = """
def clean(x):
    return abs(x)


def scale(x):
    return x * 10


def unrelated(x):
    return x
"""

FILES = {"__init__.py": "", "main.py": MAIN, "helpers.py": HELPERS}


class UserPackage:
    """A package in ``tmp_path`` that can be rewritten and imported afresh."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = f"userpkg_{uuid.uuid4().hex[:8]}"

    def load(self, files: dict[str, str]):
        folder = self.root / self.name
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(textwrap.dedent(text))
        self.forget()
        importlib.invalidate_caches()
        linecache.clearcache()
        return importlib.import_module(f"{self.name}.main")

    def forget(self) -> None:
        for module in list(sys.modules):
            if module == self.name or module.startswith(self.name + "."):
                del sys.modules[module]


@pytest.fixture
def package(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    root = tmp_path / "src"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    user = UserPackage(root)
    yield user
    user.forget()


def _edited(file: str, old: str, new: str) -> dict[str, str]:
    files = dict(FILES)
    assert old in files[file], old
    files[file] = files[file].replace(old, new)
    return files


# (function, file, old text, new text): an edit of what the function runs.
SEMANTIC = {
    "helper two calls deep": ("compute", "main.py", "x * 2", "x * 3"),
    "module constant": ("compute", "main.py", "THRESHOLD = 0.3", "THRESHOLD = 0.5"),
    "method of an instantiated class": (
        "compute",
        "main.py",
        "return x + 1\n",
        "return x + 2\n",
    ),
    "function of another module, as helpers.clean": (
        "compute",
        "helpers.py",
        "abs(x)",
        "-abs(x)",
    ),
    "function imported from another module": (
        "compute",
        "helpers.py",
        "x * 10",
        "x * 11",
    ),
    "function in a call cycle": ("ping", "main.py", "1 if n <= 0", "2 if n <= 0"),
    "function held by a closure": ("closured", "main.py", "x - 1", "x - 2"),
    "function given as a default argument": ("closured", "main.py", "x * 2", "x * 4"),
}

# Edits that change nothing that runs: the cache is kept.
COSMETIC = {
    "comment in a helper two calls deep": (
        "compute",
        "main.py",
        "    return x * 2\n",
        "    # twice\n    return x * 2  # doubled\n",
    ),
    "comment beside the constant": (
        "compute",
        "main.py",
        "THRESHOLD = 0.3",
        "# tuned by hand\nTHRESHOLD = 0.3  # keep",
    ),
    "comment in a method": (
        "compute",
        "main.py",
        "        return x + 1\n",
        "        # one more\n        return x + 1\n",
    ),
    "comment in another module": (
        "compute",
        "helpers.py",
        "    return abs(x)\n",
        "    # magnitude\n\n    return abs(x)\n",
    ),
    "an unused constant": ("compute", "main.py", "UNUSED = 1", "UNUSED = 2"),
    "an unused function of another module": (
        "compute",
        "helpers.py",
        "def unrelated(x):\n    return x",
        "def unrelated(x):\n    return -x",
    ),
    "blank lines in a call cycle": ("ping", "main.py", "def pong", "\n\ndef pong"),
}


def _still_cached(tmp_path, package, case) -> bool:
    func_name, file, old, new = case
    memory = Memory(tmp_path / "cache", verbose=0)
    before = memory.cache(getattr(package.load(FILES), func_name))
    before(3)
    assert before.check_call_in_cache(3)
    after = memory.cache(getattr(package.load(_edited(file, old, new)), func_name))
    return after.check_call_in_cache(3)


@pytest.mark.parametrize("edit", sorted(SEMANTIC))
def test_a_change_in_what_runs_invalidates(tmp_path, package, edit):
    assert not _still_cached(tmp_path, package, SEMANTIC[edit])


@pytest.mark.parametrize("edit", sorted(COSMETIC))
def test_cosmetic_edits_keep_the_cache(tmp_path, package, edit):
    assert _still_cached(tmp_path, package, COSMETIC[edit])


def test_results_follow_the_edited_helper(tmp_path, package):
    memory = Memory(tmp_path / "cache", verbose=0)
    first = memory.cache(package.load(FILES).compute)
    old = first(3)
    second = memory.cache(package.load(_edited("main.py", "x * 2", "x * 3")).compute)
    assert second(3) == old + 3  # recomputed with the new helper, not the old value


def test_the_dependency_walk_runs_once_per_function(tmp_path, package, monkeypatch):
    from joblet_memory import _code

    calls = []
    original = _code.code_record

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(_code, "code_record", counting)
    monkeypatch.setattr("joblet_memory._memorized.code_record", counting)
    memory = Memory(tmp_path / "cache", verbose=0)
    module = package.load(FILES)
    cached = memory.cache(module.compute)
    for x in range(5):
        cached(x)
        cached(x)
    memory.cache(module.compute)(1)  # re-wrapping reuses the record too
    assert len(calls) == 1


def test_check_code_false_keeps_results_after_any_edit(tmp_path, package):
    memory = Memory(tmp_path / "cache", verbose=0)
    first = memory.cache(package.load(FILES).compute, check_code=False)
    value = first(3)
    edited = _edited("main.py", "total + (x > THRESHOLD)", "total * 100")
    second = memory.cache(package.load(edited).compute, check_code=False)
    assert second.check_call_in_cache(3)
    assert second(3) == value  # the escape hatch: the old result is returned


UNINSPECTABLE = """
import math

OPS = {"sqrt": math.sqrt}


def dynamic(x, name="sqrt"):
    op = getattr(math, name)
    return op(x) + OPS[name](x) + len(str(x))
"""


def test_a_module_dict_is_tracked_by_content(tmp_path, package):
    """A dict of the user's module is configuration: its content is in the key."""
    memory = Memory(tmp_path / "cache", verbose=0)
    module = package.load({**FILES, "main.py": UNINSPECTABLE})
    cached = memory.cache(module.dynamic)
    assert cached(4.0) == 4.0 + 3
    record = cached._ensure_checked()
    assert record.dependencies[f"{package.name}.main.OPS"].digest is not None
    assert cached.check_call_in_cache(4.0)
    module.OPS = {"sqrt": abs}  # re-bound: the next call sees it
    assert not cached.check_call_in_cache(4.0)


def test_depends_on_a_file_follows_its_content(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("1,2,3")
    memory = Memory(tmp_path / "cache", verbose=0)
    runs = []

    @memory.cache(depends_on=[data])
    def load(sep):
        runs.append(sep)
        return data.read_text().split(sep)

    assert load(",") == ["1", "2", "3"]
    assert load(",") == ["1", "2", "3"]
    data.write_text("4,5")
    assert load(",") == ["4", "5"]
    assert runs == [",", ","]
    assert "depends_on" in str(load.explain(",")) or load.explain(",").hit


@pytest.mark.parametrize("value", ["model-v3", ("weights", 2)])
def test_depends_on_a_value(tmp_path, value):
    memory = Memory(tmp_path / "cache", verbose=0)

    def predict(x):
        return x

    first = memory.cache(predict, depends_on=["model-v2"])
    first(1)
    assert memory.cache(predict, depends_on=["model-v2"]).check_call_in_cache(1)
    assert not memory.cache(predict, depends_on=[value]).check_call_in_cache(1)


def test_depends_on_a_function(tmp_path, package):
    memory = Memory(tmp_path / "cache", verbose=0)

    def report(x):
        return x

    first = memory.cache(report, depends_on=[package.load(FILES).helpers.unrelated])
    first(1)
    edited = _edited(
        "helpers.py",
        "def unrelated(x):\n    return x",
        "def unrelated(x):\n    return 2",
    )
    helpers = package.load(edited).helpers
    assert not memory.cache(report, depends_on=[helpers.unrelated]).check_call_in_cache(
        1
    )


def test_depends_on_refuses_what_cannot_be_hashed(tmp_path):
    memory = Memory(tmp_path / "cache", verbose=0)
    with pytest.raises(TypeError, match="depends_on"):
        memory.cache(len, depends_on=[threading.Lock()])
    with pytest.raises(TypeError, match="a list"):
        memory.cache(len, depends_on="data.csv")


# -- explain after an edit ------------------------------------------------------


def test_own_code_changed_shows_a_diff(tmp_path, package):
    memory = Memory(tmp_path / "cache", verbose=0)
    memory.cache(package.load(FILES).inner)(3)
    edited = package.load(_edited("main.py", "return x * 2", "return x * 5"))
    cached = memory.cache(edited.inner)
    cached(4)  # another call first: the old entry is gone by now
    explanation = cached.explain(3)
    assert explanation.reason == "own code changed"
    assert "-    return x * 2" in explanation.details[0]
    assert "+    return x * 5" in explanation.details[0]


def test_dependency_changed_names_it(tmp_path, package):
    memory = Memory(tmp_path / "cache", verbose=0)
    memory.cache(package.load(FILES).compute)(3)
    edited = package.load(_edited("helpers.py", "abs(x)", "-abs(x)"))
    explanation = memory.cache(edited.compute).explain(3)
    assert explanation.reason == "dependency changed"
    assert explanation.details == [f"{package.name}.helpers.clean (function changed)"]


def test_a_changed_constant_is_named(tmp_path, package):
    memory = Memory(tmp_path / "cache", verbose=0)
    memory.cache(package.load(FILES).compute)(3)
    edited = package.load(_edited("main.py", "THRESHOLD = 0.3", "THRESHOLD = 0.1"))
    explanation = memory.cache(edited.compute).explain(3)
    assert explanation.details == [f"{package.name}.main.THRESHOLD (constant changed)"]


def test_objects_that_make_up_attributes_do_not_hang_the_walk(tmp_path):
    from unittest import mock

    helper = mock.MagicMock(return_value=3)
    namespace = {"__name__": "typed_here", "helper": helper}
    exec("def uses_mock(x):\n    return helper(x)\n", namespace)
    cached = Memory(tmp_path, verbose=0).cache(namespace["uses_mock"])
    assert cached(1) == 3
    assert cached.check_call_in_cache(1)


def test_joblib_serves_the_stale_result_where_joblet_recomputes(tmp_path, package):
    joblib = pytest.importorskip("joblib")
    before = package.load(FILES).compute
    theirs = joblib.Memory(tmp_path / "joblib", verbose=0)
    ours = Memory(tmp_path / "joblet", verbose=0)
    old = theirs.cache(before)(3)
    assert ours.cache(before)(3) == old
    after = package.load(_edited("main.py", "x * 2", "x * 3")).compute
    assert theirs.cache(after)(3) == old  # joblib: the helper's edit is not seen
    assert ours.cache(after)(3) == old + 3


@pytest.mark.timeout(120)
def test_explain_names_a_dependency_changed_in_another_process(tmp_path, package):
    import subprocess

    script = textwrap.dedent(
        """
        import importlib, sys
        sys.dont_write_bytecode = True
        sys.path.insert(0, sys.argv[1])
        from joblet_memory import Memory
        module = importlib.import_module(sys.argv[2] + ".main")
        Memory(sys.argv[3], verbose=0).cache(module.compute)(int(sys.argv[4]))
        """
    )

    def run_in_a_new_interpreter(x):
        cache = str(tmp_path / "cache")
        command = [sys.executable, "-c", script, str(package.root), package.name]
        subprocess.run([*command, cache, str(x)], check=True)

    package.load(FILES)
    run_in_a_new_interpreter(3)
    module = package.load(_edited("helpers.py", "x * 10", "x * 12"))
    run_in_a_new_interpreter(4)  # sees the change, removes the old entry
    explanation = Memory(tmp_path / "cache", verbose=0).cache(module.compute).explain(3)
    assert explanation.reason == "dependency changed"
    assert explanation.details == [f"{package.name}.helpers.scale (function changed)"]


@pytest.mark.parametrize(
    ("old", "new", "cached"),
    [
        ("return x + 1\n", "return x + 2\n", False),
        ("        return x + 1\n", "        # note\n        return x + 1\n", True),
    ],
    ids=["edited", "comment"],
)
def test_a_cached_bound_method_follows_the_methods_it_calls_on_self(
    tmp_path, package, old, new, cached
):
    memory = Memory(tmp_path / "cache", verbose=0)
    model = package.load(FILES).Model(2)
    memory.cache(model.predict, ignore=["self"])(3)
    edited = package.load(_edited("main.py", old, new)).Model(2)
    assert (
        memory.cache(edited.predict, ignore=["self"]).check_call_in_cache(3) is cached
    )
