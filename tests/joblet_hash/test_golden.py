"""Golden digests: hash values are part of joblet's contract.

Memory keys are built from these digests, so a change here silently empties every
user's cache. If a change is intended, it is a breaking change: bump the cache
layout version in joblet-memory and say so in the changelog, then update these.
"""

from __future__ import annotations

import collections
import functools

import pytest

from joblet_hash import hash

GOLDEN = {
    # name: (value, md5 digest, xxh3_128 digest)
    "int": (0, "f6b903077fadd6f7f7924a2dcfd0d828", "66834e9a9b03e0cd362406087b48e867"),
    "float": (
        1.5,
        "9eb02ede88f19ebdea3e00fa871d86db",
        "d74af1748d250946136a3dd4cb1c9c73",
    ),
    "str": (
        "joblet",
        "3795579e9d5b2971db8ee009af625987",
        "cf2ec4782b6939950e0c6402290abf87",
    ),
    "bytes": (
        b"bytes",
        "92f2d1ab55204c82f4d60c74b6fd3dbe",
        "2cdbd14db31ff1600ed6a345c6da24d8",
    ),
    "none": (
        None,
        "7d1e55650014e21b4568ed3e3d1fc531",
        "c0f5bd7bc3d3bed3f77c06a4d73d5316",
    ),
    "list": (
        [1, 2, 3],
        "3df3562680d31e8317f0a314b68fd07e",
        "34fdc0b039a5e95be1854e92458f47df",
    ),
    "tuple": (
        (1, "a", 2.0),
        "45e6214055ffa3539029602fa1f129a4",
        "f2390a114cd9b90d51353a01d49023de",
    ),
    "dict": (
        {"a": 1, "b": [2, 3]},
        "bca2e85b72590010e7d2dcf5928e1dfc",
        "27586810ea4685f8758a15cd04810b88",
    ),
    "set": (
        {1, 2, 3},
        "2947572512173a7c38d55c2005e02449",
        "ffdef493eb6658f9f1864449011a295f",
    ),
    "mixed-set": (
        {1, "a", (2, None)},
        "7e4ac9a307178b465957b77a2dea9f34",
        "7393832b3c8af812f1358a70711324a0",
    ),
    "frozenset": (
        frozenset({"x"}),
        "b1d441808bfe00027b6de7b7f8840e10",
        "7bb44efabf997c7b472e3f260784df5d",
    ),
    "nested": (
        {"k": [{"x": (1, 2)}, {3, 4}], 5: "five"},
        "9965769043cdcf5cb8c174b6c046992b",
        "c07f3e4c38139f409d195cd8c8561cb2",
    ),
    "ordered-dict": (
        collections.OrderedDict([("b", 1), ("a", 2)]),
        "ec250b929af6d12db493b576256d2f85",
        "58da68d39508d307626ec98954da2ebe",
    ),
    "partial": (
        functools.partial(max, key=len),
        "849798ec280cd1b403558bc64226bbea",
        "fd1692915d00feed93f12095bb700761",
    ),
    "builtin": (
        len,
        "80ac7752396a664796766e9594be4a76",
        "3a9178ba56d74cc6aa914b5f525af29f",
    ),
}

NUMPY_GOLDEN = {
    # name: (builder, md5 digest, xxh3_128 digest)
    "array": (
        lambda np: np.arange(10, dtype="<i8"),
        "de4861d45c090ecf4d9d46d2f8267c05",
        "6cf529a0c37bab6d45f18a3ff0cf200f",
    ),
    "fortran-array": (
        lambda np: np.asfortranarray(np.arange(6.0, dtype="<f8").reshape(2, 3)),
        "af89dd3e9d542a58d5d30cd2b3a89ff5",
        "8ad9d33c214c6181a8f7d0361c868757",
    ),
    "scalar": (
        lambda np: np.float64(2.5),
        "ec8f2040edf79cdbe03e47a8b499fb31",
        "a575965712cc4a34f9b9367f0d1654d3",
    ),
    # 8 MB: large enough for the md5 tree of 4 MiB chunks.
    "tree-hashed-array": (
        lambda np: np.arange(1_000_000, dtype="<f8"),
        "a61fa9465c851d5cfc2f1d2a7ba21ca4",
        "e7011bc6a9dc4f9a3f7c4b08932db808",
    ),
}


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_digest(name):
    value, md5_digest, xxh3_digest = GOLDEN[name]
    assert hash(value) == md5_digest
    assert hash(value, hash_name="xxh3_128") == xxh3_digest


@pytest.mark.parametrize("name", NUMPY_GOLDEN)
def test_golden_numpy_digest(name):
    np = pytest.importorskip("numpy")
    build, md5_digest, xxh3_digest = NUMPY_GOLDEN[name]
    assert hash(build(np)) == md5_digest
    assert hash(build(np), hash_name="xxh3_128") == xxh3_digest
