"""The function of a call, pickled once in the parent and once in each worker.

A batch whose tasks share one function (the common ``delayed(f)(x) for x in
...``) used to carry that function pickled anew in every batch: for a bound
method of a fitted model of many Python objects, pickling and unpickling it
per batch was most of the call. Now, on the process backend:

* the parent pickles each function once per call (:class:`CallFunctions`);
  the batches carry a :class:`SentFunction`, whose bytes are an out-of-band
  buffer of the batch's frame;
* the pool sends those bytes to a worker only the first time: a later frame
  for the same worker carries an empty buffer in their place and the worker
  takes the function it already unpickled (:func:`load_sent_function`).

Which functions a worker holds is decided by :class:`HeldFunctions`, applied
identically by the pool's writer for that worker (to the keys it wrote) and by
the worker (to the keys it read): both see the same frames in the same order,
so they agree without a message. A function is held for one call: a new call's
function replaces those of other calls, so every call sends its function
afresh (what ``f`` captured may have changed between calls), and the tasks of
one call that run in one worker share one copy of it, as the tasks of one
batch always did.
"""

from __future__ import annotations

import itertools
import os
import pickle
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, NewType

#: At most this many functions are held per worker (calls running at once).
HELD_FUNCTIONS = 4

_call_serials = itertools.count(1)

#: The call a function was sent for, ``"<pid>-<serial>"``: unique among the
#: processes sharing a pool; a sent function's key is ``"<call id>:<index>"``.
CallId = NewType("CallId", str)


class HeldFunctions:
    """Which functions (by key) one worker holds: the rule both ends apply."""

    def __init__(self) -> None:
        self.held: OrderedDict[str, Any] = OrderedDict()

    def seen(self, key: str) -> bool:
        """Whether ``key`` is held already (it becomes the most recent)."""
        if key in self.held:
            self.held.move_to_end(key)
            return True
        return False

    def hold(self, key: str, value: Any = None) -> None:
        """Hold ``key`` (a worker also keeps the function as ``value``)."""
        call = _call_of(key)
        for other in [held for held in self.held if _call_of(held) != call]:
            del self.held[other]
        self.held[key] = value
        while len(self.held) > HELD_FUNCTIONS:
            self.held.popitem(last=False)


def _call_of(key: str) -> CallId:
    return CallId(key.rpartition(":")[0])


class SentFunction:
    """A function pickled once for a call; unpickles as the function itself."""

    __slots__ = ("key", "payload")

    def __init__(self, key: str, payload: bytes) -> None:
        self.key = key
        self.payload = payload

    def __reduce__(self) -> Any:
        return load_sent_function, (self.key, pickle.PickleBuffer(self.payload))


class CallFunctions:
    """The functions one call sent, each pickled once (parent side).

    Parameters
    ----------
    dumps : callable
        ``dumps(func, reducers) -> bytes``: pickles a function as the call's
        tasks are pickled (cloudpickle, large arrays it captured memory-mapped).
    """

    def __init__(self, dumps: Callable[[Any, Any], bytes]) -> None:
        self._dumps = dumps
        self._call = CallId(f"{os.getpid()}-{next(_call_serials)}")
        self._sent: dict[Hashable, tuple[Any, SentFunction]] = {}
        self._keys: dict[int, str] = {}  # id(payload) -> key
        self.reducers: Any = None  # the reducers of the batch being pickled

    def reference(self, func: Any) -> SentFunction:
        """What a batch carries in place of ``func``."""
        identity = _identity(func)
        entry = self._sent.get(identity)
        if entry is None:
            key = f"{self._call}:{len(self._sent)}"
            sent = SentFunction(key, self._dumps(func, self.reducers))
            # func is kept: the ids in ``identity`` must stay its own
            entry = self._sent[identity] = (func, sent)
            self._keys[id(sent.payload)] = key
        return entry[1]

    def keys_in(self, buffers: list[Any]) -> list[tuple[int, str]]:
        """``(index, key)`` of the out-of-band buffers that are sent functions."""
        return [
            (index, key)
            for index, buffer in enumerate(buffers)
            if (key := self._keys.get(id(getattr(buffer, "obj", None)))) is not None
        ]


def _identity(func: Any) -> Hashable:
    """What makes two callables the same function: ``obj.method`` makes a new
    bound method at each access, so a method is its object and its function."""
    if isinstance(func, types.MethodType):
        return (id(func.__self__), id(func.__func__))
    return id(func)


def buffers_for(
    buffers: list[Any], functions: list[tuple[int, str]], held: HeldFunctions
) -> list[Any]:
    """A frame's buffers for one worker: functions it holds left empty."""
    if not functions:
        return buffers
    sent = list(buffers)
    for index, key in functions:
        if held.seen(key):
            sent[index] = b""
        else:
            held.hold(key)
    return sent


class _FailedToLoad:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_received = HeldFunctions()  # in a worker: the functions it holds


def load_sent_function(key: str, data: Any) -> Any:
    """In a worker: the function sent under ``key`` (unpickled once)."""
    if not len(data):
        if not _received.seen(key):  # the two ends disagree: a bug, say so
            raise RuntimeError(
                f"joblet worker: the function {key} was not received; please "
                "report this (the parent believed this worker held it)"
            )
        value = _received.held[key]
        if isinstance(value, _FailedToLoad):
            raise value.error
        return value
    try:
        func = pickle.loads(data)
    except BaseException as error:
        # held anyway, as the parent believes: later batches fail the same way
        _received.hold(key, _FailedToLoad(error))
        raise
    _received.hold(key, func)
    return func
