"""Property-based checks: rebuilt equal structures hash equal, changed ones differ."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from joblet_hash import hash

atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
)
hashable_atoms = st.one_of(st.integers(), st.text(max_size=8), st.binary(max_size=4))

structures = st.recursive(
    atoms,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.tuples(children, children),
        st.dictionaries(hashable_atoms, children, max_size=5),
        st.frozensets(hashable_atoms, max_size=5),
        st.sets(st.one_of(st.integers(), st.text(max_size=4)), max_size=5),
    ),
    max_leaves=30,
)


def rebuild(value):
    """An equal copy built in another order, sharing no mutable object."""
    if isinstance(value, dict):
        return {key: rebuild(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [rebuild(item) for item in value]
    if isinstance(value, tuple):
        return tuple(rebuild(item) for item in value)
    if isinstance(value, frozenset):
        return frozenset(reversed(list(value)))
    if isinstance(value, set):
        rebuilt = set()
        for element in reversed(list(value)):  # another insertion order
            rebuilt.add(element)
        return rebuilt
    if isinstance(value, str):
        return "".join(list(value))
    return value


@settings(max_examples=200, deadline=None)
@given(structures)
def test_rebuilt_equal_structures_hash_equal(value):
    assert hash(value) == hash(rebuild(value))
    assert hash(value, hash_name="xxh3_128") == hash(
        rebuild(value), hash_name="xxh3_128"
    )


@settings(max_examples=200, deadline=None)
@given(structures, st.integers())
def test_wrapping_or_extending_changes_the_hash(value, extra):
    assert hash(value) != hash([value])
    assert hash([value]) != hash([value, extra])
    assert hash({"k": value}) != hash({"k": [value, extra]})
