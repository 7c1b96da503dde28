"""The table of edits of docs/memory.rst: each edit run the way a user runs it.

For every kind of edit, a small package is written, a fresh interpreter calls
the cached function, the files are edited, and a second fresh interpreter
calls it again. An edit that changes what the function computes must
recompute (never serve the old value); an edit that cannot change it (a
comment) must keep the cache. Every result is also compared with an uncached
call: zero stale results.

All packages run in the same two interpreters (one before, one after the
edits), so the table costs two interpreter starts, not sixty.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field

import pytest

pytest.importorskip("numpy")

RECOMPUTE = "recomputes"
KEPT = "keeps the cache"


@dataclass(frozen=True)
class Edit:
    """One row: the files before and after (``main.py`` holds ``target``)."""

    kind: str
    before: str
    after: str
    expect: str = RECOMPUTE
    helpers_before: dict[str, str] = field(default_factory=dict)
    helpers_after: dict[str, str] = field(default_factory=dict)


def edit(kind, before, after, expect=RECOMPUTE, helpers=None, helpers_after=None):
    helpers = {k: textwrap.dedent(v) for k, v in (helpers or {}).items()}
    after_helpers = {k: textwrap.dedent(v) for k, v in (helpers_after or {}).items()}
    return Edit(
        kind,
        textwrap.dedent(before),
        textwrap.dedent(after),
        expect,
        helpers,
        {**helpers, **after_helpers},
    )


HELPER_V1 = {"helpers.py": "def scale(x):\n    return 2 * x\n"}
HELPER_V2 = {"helpers.py": "def scale(x):\n    return 3 * x\n"}

EDITS = [
    edit(
        "the function's body",
        "def target(x):\n    return x + 1\n",
        "def target(x):\n    return x + 2\n",
    ),
    edit(
        "a comment in the function",
        "def target(x):\n    return x + 1\n",
        "def target(x):\n    # add one\n    return x + 1\n",
        KEPT,
    ),
    edit(
        "the function's docstring (as joblib: the code changed)",
        'def target(x):\n    "Add one."\n    return x + 1\n',
        'def target(x):\n    "Add one to x."\n    return x + 1\n',
    ),
    edit(
        "a default argument",
        "def target(x, k=1):\n    return x + k\n",
        "def target(x, k=2):\n    return x + k\n",
    ),
    edit(
        "a helper's body, same module",
        "def helper(x):\n    return x * 2\n\ndef target(x):\n    return helper(x)\n",
        "def helper(x):\n    return x * 3\n\ndef target(x):\n    return helper(x)\n",
    ),
    edit(
        "a helper in another module (import helpers)",
        "from . import helpers\n\ndef target(x):\n    return helpers.scale(x)\n",
        "from . import helpers\n\ndef target(x):\n    return helpers.scale(x)\n",
        helpers=HELPER_V1,
        helpers_after=HELPER_V2,
    ),
    edit(
        "a helper imported by name (from helpers import scale)",
        "from .helpers import scale\n\ndef target(x):\n    return scale(x)\n",
        "from .helpers import scale\n\ndef target(x):\n    return scale(x)\n",
        helpers=HELPER_V1,
        helpers_after=HELPER_V2,
    ),
    edit(
        "a helper reached through getattr(module, name)",
        "from . import helpers\n\ndef target(x):\n"
        "    return getattr(helpers, 'scale')(x)\n",
        "from . import helpers\n\ndef target(x):\n"
        "    return getattr(helpers, 'scale')(x)\n",
        helpers=HELPER_V1,
        helpers_after=HELPER_V2,
    ),
    edit(
        "a method of a class the function uses",
        "class Model:\n    def predict(self, x):\n        return x * 2\n\n"
        "def target(x):\n    return Model().predict(x)\n",
        "class Model:\n    def predict(self, x):\n        return x * 5\n\n"
        "def target(x):\n    return Model().predict(x)\n",
    ),
    edit(
        "a property",
        "class Box:\n    @property\n    def size(self):\n        return 2\n\n"
        "def target(x):\n    return Box().size * x\n",
        "class Box:\n    @property\n    def size(self):\n        return 4\n\n"
        "def target(x):\n    return Box().size * x\n",
    ),
    edit(
        "a functools.cached_property",
        "import functools\n\nclass Box:\n    @functools.cached_property\n"
        "    def size(self):\n        return 2\n\n"
        "def target(x):\n    return Box().size * x\n",
        "import functools\n\nclass Box:\n    @functools.cached_property\n"
        "    def size(self):\n        return 7\n\n"
        "def target(x):\n    return Box().size * x\n",
    ),
    edit(
        "a staticmethod",
        "class Ops:\n    @staticmethod\n    def twice(x):\n        return 2 * x\n\n"
        "def target(x):\n    return Ops.twice(x)\n",
        "class Ops:\n    @staticmethod\n    def twice(x):\n        return 2 * x + 1\n\n"
        "def target(x):\n    return Ops.twice(x)\n",
    ),
    edit(
        "a classmethod",
        "class Ops:\n    @classmethod\n    def twice(cls, x):\n        return 2 * x\n\n"
        "def target(x):\n    return Ops.twice(x)\n",
        "class Ops:\n    @classmethod\n    def twice(cls, x):\n        return 2 * x - 1\n\n"
        "def target(x):\n    return Ops.twice(x)\n",
    ),
    edit(
        "a dataclass field default",
        "import dataclasses\n\n@dataclasses.dataclass\nclass Config:\n"
        "    k: int = 2\n\ndef target(x):\n    return Config().k * x\n",
        "import dataclasses\n\n@dataclasses.dataclass\nclass Config:\n"
        "    k: int = 3\n\ndef target(x):\n    return Config().k * x\n",
    ),
    edit(
        "an Enum member's value",
        "import enum\n\nclass Mode(enum.Enum):\n    FAST = 1\n    SLOW = 2\n\n"
        "def target(x):\n    return Mode.FAST.value * x\n",
        "import enum\n\nclass Mode(enum.Enum):\n    FAST = 5\n    SLOW = 2\n\n"
        "def target(x):\n    return Mode.FAST.value * x\n",
    ),
    edit(
        "a module constant",
        "K = 2\n\ndef target(x):\n    return K * x\n",
        "K = 3\n\ndef target(x):\n    return K * x\n",
    ),
    edit(
        "a dict constant (configuration)",
        "PARAMS = {'a': 2}\n\ndef target(x):\n    return PARAMS['a'] * x\n",
        "PARAMS = {'a': 9}\n\ndef target(x):\n    return PARAMS['a'] * x\n",
    ),
    edit(
        "a list constant",
        "WEIGHTS = [1, 2]\n\ndef target(x):\n    return sum(WEIGHTS) * x\n",
        "WEIGHTS = [1, 2, 3]\n\ndef target(x):\n    return sum(WEIGHTS) * x\n",
    ),
    edit(
        "a set constant",
        "KEEP = {1, 2}\n\ndef target(x):\n    return len(KEEP) + x\n",
        "KEEP = {1, 2, 3}\n\ndef target(x):\n    return len(KEEP) + x\n",
    ),
    edit(
        "a dict constant filled in place at import",
        "TABLE = {}\nTABLE['k'] = 2\n\ndef target(x):\n    return TABLE['k'] * x\n",
        "TABLE = {}\nTABLE['k'] = 4\n\ndef target(x):\n    return TABLE['k'] * x\n",
    ),
    edit(
        "an array constant",
        "import numpy as np\n\nW = np.arange(5.0)\n\n"
        "def target(x):\n    return float(W.sum()) * x\n",
        "import numpy as np\n\nW = np.arange(6.0)\n\n"
        "def target(x):\n    return float(W.sum()) * x\n",
    ),
    edit(
        "the frozen arguments of a module-level partial",
        "import functools\n\ndef power(x, k):\n    return x ** k\n\n"
        "SQUARE = functools.partial(power, k=2)\n\n"
        "def target(x):\n    return SQUARE(x)\n",
        "import functools\n\ndef power(x, k):\n    return x ** k\n\n"
        "SQUARE = functools.partial(power, k=3)\n\n"
        "def target(x):\n    return SQUARE(x)\n",
    ),
    edit(
        "a lambda in a global",
        "STEP = lambda x: x + 1\n\ndef target(x):\n    return STEP(x)\n",
        "STEP = lambda x: x + 10\n\ndef target(x):\n    return STEP(x)\n",
    ),
    edit(
        "a helper under a decorator with functools.wraps",
        "import functools\n\ndef logged(f):\n    @functools.wraps(f)\n"
        "    def wrapper(*a):\n        return f(*a)\n    return wrapper\n\n"
        "@logged\ndef helper(x):\n    return x * 2\n\n"
        "def target(x):\n    return helper(x)\n",
        "import functools\n\ndef logged(f):\n    @functools.wraps(f)\n"
        "    def wrapper(*a):\n        return f(*a)\n    return wrapper\n\n"
        "@logged\ndef helper(x):\n    return x * 6\n\n"
        "def target(x):\n    return helper(x)\n",
    ),
    edit(
        "a helper under a decorator without functools.wraps",
        "def logged(f):\n    def wrapper(*a):\n        return f(*a)\n    return wrapper\n\n"
        "@logged\ndef helper(x):\n    return x * 2\n\n"
        "def target(x):\n    return helper(x)\n",
        "def logged(f):\n    def wrapper(*a):\n        return f(*a)\n    return wrapper\n\n"
        "@logged\ndef helper(x):\n    return x * 6\n\n"
        "def target(x):\n    return helper(x)\n",
    ),
    edit(
        "a closure cell of a module-level function",
        "def make(k):\n    def scaled(x):\n        return k * x\n    return scaled\n\n"
        "SCALE = make(2)\n\ndef target(x):\n    return SCALE(x)\n",
        "def make(k):\n    def scaled(x):\n        return k * x\n    return scaled\n\n"
        "SCALE = make(5)\n\ndef target(x):\n    return SCALE(x)\n",
    ),
    edit(
        "a name re-bound from one C function to another (math)",
        "import math\n\nOP = math.floor\n\ndef target(x):\n    return OP(x + 0.5)\n",
        "import math\n\nOP = math.ceil\n\ndef target(x):\n    return OP(x + 0.5)\n",
    ),
    edit(
        "a name re-bound from one numpy ufunc to another",
        "import numpy as np\n\nOP = np.floor\n\n"
        "def target(x):\n    return float(OP(x + 0.5))\n",
        "import numpy as np\n\nOP = np.ceil\n\n"
        "def target(x):\n    return float(OP(x + 0.5))\n",
    ),
    edit(
        "a module-level instance: its constructor argument",
        "class Scaler:\n    def __init__(self, k):\n        self.k = k\n"
        "    def apply(self, x):\n        return self.k * x\n\n"
        "SCALER = Scaler(2)\n\ndef target(x):\n    return SCALER.apply(x)\n",
        "class Scaler:\n    def __init__(self, k):\n        self.k = k\n"
        "    def apply(self, x):\n        return self.k * x\n\n"
        "SCALER = Scaler(3)\n\ndef target(x):\n    return SCALER.apply(x)\n",
    ),
    edit(
        "a module-level instance: a method of its class",
        "class Scaler:\n    def __init__(self, k):\n        self.k = k\n"
        "    def apply(self, x):\n        return self.k * x\n\n"
        "SCALER = Scaler(2)\n\ndef target(x):\n    return SCALER.apply(x)\n",
        "class Scaler:\n    def __init__(self, k):\n        self.k = k\n"
        "    def apply(self, x):\n        return self.k * x + 1\n\n"
        "SCALER = Scaler(2)\n\ndef target(x):\n    return SCALER.apply(x)\n",
    ),
    edit(
        "a callable instance",
        "class Add:\n    def __call__(self, x):\n        return x + 1\n\n"
        "ADD = Add()\n\ndef target(x):\n    return ADD(x)\n",
        "class Add:\n    def __call__(self, x):\n        return x + 100\n\n"
        "ADD = Add()\n\ndef target(x):\n    return ADD(x)\n",
    ),
]

RUNNER = textwrap.dedent(
    """
    import importlib, json, sys, warnings
    from joblet_memory import Memory

    warnings.simplefilter("ignore")
    root, count = sys.argv[1], int(sys.argv[2])
    sys.path.insert(0, root)
    report = {}
    for index in range(count):
        module = importlib.import_module(f"edit_{index}.main")
        memory = Memory(f"{root}/cache_{index}", verbose=0)
        cached = memory.cache(module.target)
        was_cached = cached.check_call_in_cache(3)
        value = cached(3)
        report[index] = [was_cached, value == module.target(3), repr(value)]
    print(json.dumps(report))
    """
)


def write_packages(root, files_of) -> None:
    for index, row in enumerate(EDITS):
        folder = root / f"edit_{index}"
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text("")
        for name, text in files_of(row).items():
            (folder / name).write_text(text)
        for cached in folder.glob("__pycache__"):  # as an editor's save: no stale .pyc
            for pyc in cached.iterdir():
                pyc.unlink()


def run_all(root) -> dict[str, list]:
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(root), str(len(EDITS))],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.timeout(300)
def test_every_edit_of_the_table(tmp_path):
    write_packages(tmp_path, lambda row: {"main.py": row.before, **row.helpers_before})
    first = run_all(tmp_path)
    write_packages(tmp_path, lambda row: {"main.py": row.after, **row.helpers_after})
    second = run_all(tmp_path)
    wrong = []
    for index, row in enumerate(EDITS):
        was_cached, fresh, value = second[str(index)]
        assert first[str(index)][0] is False, row.kind
        if not fresh:
            wrong.append(f"{row.kind}: STALE value {value}")
        elif was_cached != (row.expect == KEPT):
            wrong.append(f"{row.kind}: expected it {row.expect}, got hit={was_cached}")
    assert not wrong, "\n".join(wrong)


def test_the_table_is_long_enough():
    """docs/memory.rst's table of edits has at least 25 rows, each tested here."""
    assert len(EDITS) >= 25
