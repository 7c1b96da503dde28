"""Memory, MemorizedFunc and MemorizedResult pickle and work elsewhere."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

from joblet_memory import MemorizedResult, Memory


def cube(x):
    return x**3


def test_memory_round_trip(tmp_path):
    memory = Memory(tmp_path, verbose=0, bytes_limit="1M")
    again = pickle.loads(pickle.dumps(memory))
    assert again.location == memory.location
    assert again.bytes_limit == 1024**2
    again.cache(cube)(2)
    assert memory.cache(cube).check_call_in_cache(2)
    none = pickle.loads(pickle.dumps(Memory(None)))
    assert none.cache(cube)(2) == 8


def test_memorized_func_round_trip(tmp_path):
    cached = Memory(tmp_path, verbose=0).cache(cube, ignore=["x"])
    again = pickle.loads(pickle.dumps(cached))
    assert again.ignore == ["x"]
    assert again(3) == 27
    assert cached.check_call_in_cache(5)  # x is ignored: any x hits


def test_memorized_result_round_trip(tmp_path):
    result = Memory(tmp_path, verbose=0).cache(cube).call_and_shelve(4)
    again = pickle.loads(pickle.dumps(result))
    assert isinstance(again, MemorizedResult)
    assert again.get() == 64
    assert repr(again) == repr(result)
    assert len(pickle.dumps(result)) < 500


def test_second_interpreter_reuses_the_cache(tmp_path):
    (tmp_path / "reuse_mod.py").write_text(
        textwrap.dedent(
            """
            CALLS = []

            def work(x, scale=1):
                CALLS.append(x)
                return {"value": x * scale}
            """
        )
    )
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        import reuse_mod
        from joblet_memory import Memory
        work = Memory(sys.argv[2], verbose=0).cache(reuse_mod.work)
        print(work(3), work(x=3, scale=1), len(reuse_mod.CALLS))
        """
    )
    args = [sys.executable, "-c", script, str(tmp_path), str(tmp_path / "cache")]
    first = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    second = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    assert first.split()[-1] == "1"
    assert second.split()[-1] == "0"
    assert first.rsplit(" ", 1)[0] == second.rsplit(" ", 1)[0]


def test_import_does_not_pull_numpy():
    code = "import sys, joblet_memory; print('numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_call_and_shelve_hit_does_not_read_the_value(tmp_path, monkeypatch):
    from joblet_memory import FileSystemStoreBackend

    cached = Memory(tmp_path, verbose=0).cache(cube)
    cached(4)  # stored
    reads = []
    original = FileSystemStoreBackend.load_item

    def counting_load_item(self, *args, **kwargs):
        reads.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FileSystemStoreBackend, "load_item", counting_load_item)
    result = cached.call_and_shelve(4)
    assert reads == []  # a hit: the (possibly large) value is not read
    assert result.get() == 64
    assert len(reads) == 1


def test_every_constructor_parameter_survives_pickling(tmp_path):
    """A new MemorizedFunc parameter cannot be forgotten by pickling."""
    import inspect

    from joblet_memory import MemorizedFunc

    parameters = set(inspect.signature(MemorizedFunc).parameters)
    carried = {*MemorizedFunc._PICKLED, "store_backend"}
    # memory_counters are this process's counts: a copy starts its own
    assert parameters - carried == {"memory_counters"}
