"""The extension point: user types giving their own fingerprint."""

from __future__ import annotations

import threading

import pytest

from joblet_hash import hash, register_fingerprint


class Estimator:
    """A model hashed by its parameters only, not by its fitted state or lock."""

    def __init__(self, alpha, fitted=None):
        self.alpha = alpha
        self.fitted = fitted
        self._lock = threading.Lock()

    def __joblet_fingerprint__(self):
        return {"alpha": self.alpha}


class OtherEstimator(Estimator):
    pass


def test_method_fingerprint_replaces_the_state():
    assert hash(Estimator(0.5, fitted=[1, 2])) == hash(Estimator(0.5, fitted=None))
    assert hash(Estimator(0.5)) != hash(Estimator(0.1))


def test_fingerprint_includes_the_class():
    assert hash(Estimator(0.5)) != hash(OtherEstimator(0.5))
    assert hash(Estimator(0.5)) != hash({"alpha": 0.5})


def test_fingerprinted_object_keys_a_bound_method():
    assert hash(Estimator(0.5).__init__) == hash(Estimator(0.5).__init__)
    assert hash(Estimator(0.5).__init__) != hash(Estimator(0.7).__init__)


class ThirdParty:
    def __init__(self, name):
        self.name = name
        self.handle = threading.Lock()


class ThirdPartyChild(ThirdParty):
    pass


def test_register_fingerprint_applies_to_subclasses():
    register_fingerprint(ThirdParty, lambda obj: obj.name)
    assert hash(ThirdParty("a")) == hash(ThirdParty("a"))
    assert hash(ThirdParty("a")) != hash(ThirdParty("b"))
    assert hash(ThirdPartyChild("a")) == hash(ThirdPartyChild("a"))
    assert hash(ThirdPartyChild("a")) != hash(ThirdParty("a"))


def test_register_fingerprint_validates_its_arguments():
    with pytest.raises(TypeError, match="expects a class"):
        register_fingerprint("not a class", len)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expects a callable"):
        register_fingerprint(ThirdParty, 3)  # type: ignore[arg-type]


def test_fingerprint_errors_point_inside_the_fingerprint():
    class Leaky:
        def __joblet_fingerprint__(self):
            return {"lock": threading.Lock()}

    with pytest.raises(
        TypeError, match=r"obj\[0\]\.__joblet_fingerprint__\(\)\['lock'\]"
    ):
        hash([Leaky()])
