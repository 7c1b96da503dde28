"""joblet_hash.code: what compiled code computes, whatever the source layout."""

from __future__ import annotations

import functools
import textwrap

import pytest

from joblet_hash import hash
from joblet_hash.code import code_form, display_name, instructions, names_read

ONE_LINE = """
def make():
    def scaled(a, b):
        total = a + b
        return total * 3 if a > b else [a, b, total]
    return scaled
"""

# The same code, laid out differently: moved down, a statement split over
# lines (on 3.13 that changes raw bytecode: LOAD_FAST_LOAD_FAST forms only
# within one line), comments and blank lines.
REFLOWED = """


def make():
    # a comment

    def scaled(a,
               b):
        total = (a
                 + b)

        return (total * 3
                if a > b
                else [a,
                      b, total])
    return scaled
"""

CHANGED = """
def make():
    def scaled(a, b):
        total = a - b
        return total * 3 if a > b else [a, b, total]
    return scaled
"""


def _built(source: str, tmp_path, name: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["make"]()


def test_the_layout_of_the_source_does_not_change_the_form(tmp_path):
    first = _built(ONE_LINE, tmp_path, "one_line")
    second = _built(REFLOWED, tmp_path, "reflowed")
    assert first.__code__.co_firstlineno != second.__code__.co_firstlineno
    assert code_form(first.__code__) == code_form(second.__code__)
    assert hash(first) == hash(second)
    assert first(1, 2) == second(1, 2)


def test_a_changed_computation_changes_the_form(tmp_path):
    first = _built(ONE_LINE, tmp_path, "one_line")
    changed = _built(CHANGED, tmp_path, "changed")
    assert code_form(first.__code__) != code_form(changed.__code__)
    assert hash(first) != hash(changed)


def test_jumps_are_counted_in_instructions_and_nops_dropped():
    def branches(x):
        if x:
            return 1
        return 2

    ops, _table = instructions(branches.__code__)
    assert all(name not in ("NOP", "CACHE", "EXTENDED_ARG") for name, _ in ops)
    targets = [arg[1] for _, arg in ops if isinstance(arg, tuple) and arg[0] == "->"]
    assert targets
    assert all(0 <= target <= len(ops) for target in targets)


def test_constants_are_reduced_and_nested_code_is_included():
    def outer():
        return lambda: "inner constant"

    seen = []
    form = code_form(outer.__code__, lambda const: seen.append(const) or const)
    assert "inner constant" in seen
    nested = [part for part in form[2] if isinstance(part, tuple)]
    assert nested
    assert nested[0][0] == "<lambda>"


@pytest.mark.parametrize("nested", [False, True])
def test_names_read_include_nested_code(nested):
    if nested:

        def reads():
            return lambda: OUTSIDE_NAME  # noqa: F821

    else:

        def reads():
            return OUTSIDE_NAME  # noqa: F821

    assert "OUTSIDE_NAME" in names_read(reads.__code__)


class _Model:
    def fit(self):
        return self


class _NoName:
    def __call__(self):
        return None


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (len, "len"),
        (_Model.fit, "_Model.fit"),
        (_Model().fit, "_Model.fit"),
        (lambda: None, "<lambda>"),
        (functools.partial(functools.partial(_Model.fit), None), "_Model.fit"),
        (_NoName(), "_NoName"),
    ],
    ids=["builtin", "function", "bound-method", "lambda", "nested-partial", "object"],
)
def test_display_name(func, expected):
    assert display_name(func) == expected
