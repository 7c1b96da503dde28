"""Every documented parameter of ``Memory`` and ``Memory.cache`` changes something.

One case per parameter, each asserting an effect that disappears if the
parameter is ignored; a guard checks that the cases cover the signatures, so
a new parameter cannot land untested.
"""

from __future__ import annotations

import inspect
import pathlib
import time
import uuid
from collections.abc import Callable

import pytest

from joblet_memory import (
    CacheWarning,
    FileSystemStoreBackend,
    Memory,
    expires_after,
    register_store_backend,
)
from joblet_memory._stores._signing import TRAILER_MAGIC

np = pytest.importorskip("numpy")

calls: list[object] = []


def record(x, debug=False):
    calls.append(x)
    return [x] * 100


def array(n):
    calls.append(n)
    return np.arange(n, dtype=np.float64)


def output_files(memory: Memory) -> list[pathlib.Path]:
    return [
        pathlib.Path(item.path, "output.pkl")
        for item in memory.store_backend.get_items()
    ]


class CountingStore(FileSystemStoreBackend):
    """The local store, counting what it writes: proof that it was chosen."""

    dumps = 0

    def dump_item(self, *args, **kwargs):
        CountingStore.dumps += 1
        return super().dump_item(*args, **kwargs)


# -- Memory(...) --------------------------------------------------------------------


def case_location(tmp_path, capsys):
    calls.clear()
    Memory(None).cache(record)(1), Memory(None).cache(record)(1)
    assert calls == [1, 1]  # None: nothing cached
    cached = Memory(tmp_path, verbose=0).cache(record)
    cached(1), cached(1)
    assert calls == [1, 1, 1]
    assert (tmp_path / "joblet").is_dir()


def case_backend(tmp_path, capsys):
    register_store_backend("counting", CountingStore)
    before = CountingStore.dumps
    Memory(tmp_path, backend="counting", verbose=0).cache(record)(2)
    assert CountingStore.dumps == before + 1


def case_mmap_mode(tmp_path, capsys):
    value = Memory(tmp_path, mmap_mode="r", verbose=0).cache(array)(100)
    assert isinstance(value, np.memmap)
    assert not value.flags.writeable


def case_compress(tmp_path, capsys):
    memory = Memory(tmp_path, compress=("lz4", 1), verbose=0)
    memory.cache(record)(3)
    [output] = output_files(memory)
    assert output.read_bytes()[:4] == b"\x04\x22\x4d\x18"  # an lz4 frame


def case_verbose(tmp_path, capsys):
    Memory(tmp_path / "quiet", verbose=0).cache(record)(4)
    assert capsys.readouterr().out == ""
    Memory(tmp_path / "loud", verbose=1).cache(record)(4)
    assert "[Memory]" in capsys.readouterr().out


def case_bytes_limit(tmp_path, capsys):
    memory = Memory(tmp_path, bytes_limit=4000, verbose=0)
    for i in range(8):
        memory.cache(array)(200 + i)  # about 1.7 kB each
    sizes = sum(item.size for item in memory.store_backend.get_items())
    assert sizes <= 4000


def case_items_limit(tmp_path, capsys):
    memory = Memory(tmp_path, items_limit=2, verbose=0)
    for i in range(5):
        memory.cache(record)(i)
    assert len(memory.store_backend.get_items()) == 2


def case_age_limit(tmp_path, capsys):
    memory = Memory(tmp_path, age_limit=0.2, verbose=0)
    memory.cache(record)(1)
    time.sleep(0.3)
    memory.reduce_size()  # the Memory's limits apply
    assert memory.store_backend.get_items() == []


def case_backend_options(tmp_path, capsys):
    memory = Memory(tmp_path, backend_options={"permissions": "group"}, verbose=0)
    memory.cache(record)(5)
    [output] = output_files(memory)
    assert output.stat().st_mode & 0o777 == 0o660


def case_track_versions(tmp_path, capsys):
    cached = Memory(tmp_path, track_versions=True, verbose=0).cache(array)
    cached(3)
    numpy = cached._ensure_checked().dependencies["numpy"]
    assert numpy.digest is not None
    assert numpy.detail == np.__version__


def case_signing_key(tmp_path, capsys):
    memory = Memory(tmp_path, signing_key="s" * 32, verbose=0)
    memory.cache(record)(6)
    [output] = output_files(memory)
    assert output.read_bytes().endswith(TRAILER_MAGIC)  # a private folder signs


def case_trust_unsigned(tmp_path, capsys):
    shared = {"permissions": "group"}
    memory = Memory(tmp_path, backend_options=shared, verbose=0)
    memory.cache(record)(7)
    [output] = output_files(memory)
    import joblet_persist

    joblet_persist.dump("older value", output)  # unsigned, as an older joblet
    with pytest.warns(CacheWarning, match="unsigned"):
        assert memory.cache(record)(7) == [7] * 100
    joblet_persist.dump("older value", output)
    trusting = Memory(tmp_path, backend_options=shared, trust_unsigned=True, verbose=0)
    assert trusting.cache(record)(7) == "older value"


def case_local_cache(tmp_path, capsys):
    pytest.importorskip("fsspec")
    folder = tmp_path / "copies"
    memory = Memory(
        f"memory://params-{uuid.uuid4().hex}",
        mmap_mode="r",
        local_cache=folder,
        verbose=0,
    )
    memory.cache(array)(50)
    assert isinstance(memory.cache(array)(50), np.memmap)
    assert list(folder.rglob("output.pkl"))


MEMORY_CASES: dict[str, Callable[..., None]] = {
    "location": case_location,
    "backend": case_backend,
    "mmap_mode": case_mmap_mode,
    "compress": case_compress,
    "verbose": case_verbose,
    "bytes_limit": case_bytes_limit,
    "items_limit": case_items_limit,
    "age_limit": case_age_limit,
    "backend_options": case_backend_options,
    "track_versions": case_track_versions,
    "signing_key": case_signing_key,
    "trust_unsigned": case_trust_unsigned,
    "local_cache": case_local_cache,
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("parameter", sorted(MEMORY_CASES))
def test_each_memory_parameter_has_an_effect(parameter, tmp_path, capsys):
    MEMORY_CASES[parameter](tmp_path, capsys)


# -- Memory.cache(...) ----------------------------------------------------------------


def cache_ignore(memory):
    cached = memory.cache(record, ignore=["debug"])
    cached(1, debug=True), cached(1, debug=False)
    assert calls == [1]


def cache_verbose(memory, capsys):
    memory.cache(record, verbose=1)(1)
    assert "[Memory]" in capsys.readouterr().out  # the Memory says 0


def cache_mmap_mode(memory):
    assert isinstance(memory.cache(array, mmap_mode="c")(10), np.memmap)


def cache_cache_validation_callback(memory):
    cached = memory.cache(record, cache_validation_callback=lambda meta: False)
    cached(1), cached(1)
    assert calls == [1, 1]


def cache_track_versions(memory):
    cached = memory.cache(array, track_versions=True)
    cached(2)
    assert cached._ensure_checked().dependencies["numpy"].digest is not None


def cache_depends_on(memory, tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("1")
    cached = memory.cache(record, depends_on=[data])
    cached(1), cached(1)
    data.write_text("22")
    cached(1)
    assert calls == [1, 1]


def cache_check_code(memory):
    def changing(x):
        calls.append(x)
        return x

    memory.cache(changing, check_code=False)(1)
    changing.__code__ = (lambda x: calls.append(x) or -x).__code__
    assert memory.cache(changing, check_code=False)(1) == 1  # the code is not keyed
    assert memory.cache(changing)(1) == -1


def cache_func(memory):
    assert memory.cache(record)(9) == [9] * 100


CACHE_CASES: dict[str, Callable[..., None]] = {
    "func": cache_func,
    "ignore": cache_ignore,
    "verbose": cache_verbose,
    "mmap_mode": cache_mmap_mode,
    "cache_validation_callback": cache_cache_validation_callback,
    "track_versions": cache_track_versions,
    "depends_on": cache_depends_on,
    "check_code": cache_check_code,
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("parameter", sorted(CACHE_CASES))
def test_each_cache_parameter_has_an_effect(parameter, tmp_path, capsys):
    calls.clear()
    memory = Memory(tmp_path / "cache", verbose=0)
    case = CACHE_CASES[parameter]
    wanted = inspect.signature(case).parameters
    extra = {"capsys": capsys, "tmp_path": tmp_path}
    case(memory, **{name: extra[name] for name in wanted if name in extra})


def test_expires_after_is_a_validation_callback(tmp_path):
    calls.clear()
    cached = Memory(tmp_path, verbose=0).cache(
        record, cache_validation_callback=expires_after(seconds=0.2)
    )
    cached(1), cached(1)
    time.sleep(0.3)
    cached(1)
    assert calls == [1, 1]


@pytest.mark.parametrize(
    ("unit", "count"),
    [
        ("days", 100),
        ("seconds", 100),
        ("microseconds", 10**8),
        ("milliseconds", 10**5),
        ("minutes", 100),
        ("hours", 100),
        ("weeks", 100),
    ],
)
def test_each_unit_of_expires_after_counts(unit, count):
    # count units old: kept for a lifetime 1% longer, expired at 1% shorter
    import datetime

    age = datetime.timedelta(**{unit: count}).total_seconds()
    computed = {"time": time.time() - age}
    assert expires_after(**{unit: count * 1.01})(computed)
    assert not expires_after(**{unit: count * 0.99})(computed)


@pytest.mark.parametrize(
    ("callable_", "cases"),
    [(Memory.__init__, MEMORY_CASES), (Memory.cache, CACHE_CASES)],
    ids=["Memory", "Memory.cache"],
)
def test_every_parameter_has_a_case(callable_, cases):
    parameters = set(inspect.signature(callable_).parameters) - {"self"}
    assert parameters == set(cases), "add a case for each new parameter"


@pytest.mark.parametrize(
    ("call", "typed", "meant"),
    [
        (lambda tmp: Memory(tmp, compres=3), "compres", "compress"),
        (lambda tmp: Memory(tmp, mmap_mod="r"), "mmap_mod", "mmap_mode"),
        (lambda tmp: Memory(tmp).cache(record, ignor=["x"]), "ignor", "ignore"),
        (
            lambda tmp: Memory(tmp).cache(record, cache_validation=None),
            "cache_validation",
            "cache_validation_callback",
        ),
    ],
)
def test_a_misspelled_keyword_names_the_closest(tmp_path, call, typed, meant):
    with pytest.raises(TypeError, match=f"{typed}' \\(did you mean '{meant}'\\?\\)"):
        call(tmp_path)
