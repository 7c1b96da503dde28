"""Pickling of tasks for process workers.

Functions and classes that cannot be imported by name in a worker (defined in
``__main__``, lambdas, closures) go through cloudpickle; everything else is plain
pickle protocol 5, with large buffers (NumPy arrays, bytes-like objects that
support it) sent out of band, without a copy.

``reducers`` ({type: reduce function}, copyreg style) are applied while pickling
tasks: the hook where large arguments are replaced by lighter references. Under
the key ``BuffersHook`` they may also hold a reducer for every other object
(``reducer_override``): the memmapper uses it to map large protocol-5 buffers.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from typing import Any

from ._errors import TaskPicklingError
from ._memmapping import BuffersHook, MappedBuffer
from ._sent_functions import SentFunction
from ._tempfolders import TempFolderFullError

PROTOCOL = 5

Payload = tuple[bytes, list[Any]]

_pickler_classes: dict[bool, Any] = {}


def _get_pickler_class(with_buffers_hook: bool) -> Any:
    """The task pickler; with ``reducer_override`` only when a buffers hook is set,
    so that tasks without large data pay nothing for it."""
    cls = _pickler_classes.get(with_buffers_hook)
    if cls is not None:
        return cls
    import collections
    import types

    import cloudpickle

    # cloudpickle ships no type information: its Pickler is Any to mypy
    # (flagged by --strict only, hence unused-ignore).
    class TaskPickler(cloudpickle.Pickler):  # type: ignore[misc, unused-ignore]
        def __init__(
            self,
            file: Any,
            buffers: list[Any] | None,
            reducers: dict[type, Callable[[Any], Any]] | None,
        ) -> None:
            def keep_buffer(buffer: pickle.PickleBuffer) -> bool:
                try:
                    buffers.append(buffer.raw())  # type: ignore[union-attr]
                except BufferError:  # not contiguous: pickled in band
                    return True
                return False

            if reducers:
                # Set before __init__: the C pickler reads dispatch_table there.
                self.dispatch_table = collections.ChainMap(
                    reducers, cloudpickle.Pickler.dispatch_table
                )
            super().__init__(
                file,
                protocol=PROTOCOL,
                buffer_callback=keep_buffer if buffers is not None else None,
            )

    class BuffersTaskPickler(TaskPickler):
        def __init__(
            self,
            file: Any,
            buffers: list[Any] | None,
            reducers: dict[type, Callable[[Any], Any]],
        ) -> None:
            reducers = dict(reducers)
            self._reduce_buffers = reducers.pop(BuffersHook)
            reducers[MappedBuffer] = MappedBuffer.__reduce__
            # a sent function's bytes travel out of band, never as a file
            reducers[SentFunction] = SentFunction.__reduce__
            super().__init__(file, buffers, reducers)

        def reducer_override(self, obj: Any) -> Any:
            reduced = super().reducer_override(obj)  # cloudpickle: functions, classes
            if (
                reduced is not NotImplemented
                or isinstance(obj, (type, types.FunctionType))
                or type(obj) in self.dispatch_table
            ):
                return reduced
            return self._reduce_buffers(obj)

    cls = BuffersTaskPickler if with_buffers_hook else TaskPickler
    _pickler_classes[with_buffers_hook] = cls
    return cls


def dumps(
    obj: Any, reducers: dict[type, Callable[[Any], Any]] | None = None
) -> Payload:
    """Pickle ``obj`` into (main bytes, out-of-band buffers)."""
    file = io.BytesIO()
    buffers: list[Any] = []
    cls = _get_pickler_class(bool(reducers) and BuffersHook in reducers)  # type: ignore[operator]
    cls(file, buffers, reducers).dump(obj)
    return file.getvalue(), buffers


def dumps_in_band(
    obj: Any, reducers: dict[type, Callable[[Any], Any]] | None = None
) -> bytes:
    """Pickle ``obj`` as tasks are pickled, its buffers inside the bytes."""
    file = io.BytesIO()
    cls = _get_pickler_class(bool(reducers) and BuffersHook in reducers)  # type: ignore[operator]
    cls(file, None, reducers).dump(obj)
    return file.getvalue()


def dumps_task(
    batch: Any, reducers: dict[type, Callable[[Any], Any]] | None
) -> Payload:
    """Pickle a batch; on failure, say which object of which task failed."""
    try:
        return dumps(batch, reducers)
    except TempFolderFullError:
        raise  # says what is full and what to do: not a pickling problem
    except Exception as error:
        raise _explain(batch, reducers, error) from error


def _fails(
    obj: Any, reducers: dict[type, Callable[[Any], Any]] | None
) -> Exception | None:
    try:
        dumps(obj, reducers)
    except Exception as error:
        return error
    return None


def _explain(
    batch: Any, reducers: dict[type, Callable[[Any], Any]] | None, error: Exception
) -> TaskPicklingError:
    from joblet_hash.code import display_name  # for this message only

    items = getattr(batch, "items", None)
    if isinstance(items, list):
        for index, (func, args, kwargs) in enumerate(items):
            call = f"delayed({display_name(func)})(...)"
            where = (
                f" (task {index} of a batch of {len(items)})" if len(items) > 1 else ""
            )
            places: list[tuple[str, Any]] = [("the function", func)]
            places += [
                (f"argument {position}", arg) for position, arg in enumerate(args)
            ]
            places += [
                (f"keyword argument {key!r}", value) for key, value in kwargs.items()
            ]
            for place, value in places:
                failure = _fails(value, reducers)
                if failure is not None:
                    return TaskPicklingError(
                        f"Could not pickle the task to send it to the workers: {place} of "
                        f"{call}{where}, an object of type {type(value).__qualname__!r}, "
                        f"cannot be pickled ({type(failure).__name__}: {failure}). Pass "
                        "something picklable, create the object inside the function, or "
                        "use a thread backend (prefer='threads')."
                    )
    return TaskPicklingError(
        f"Could not pickle the task to send it to the workers ({type(error).__name__}: {error})"
    )


class CloudpickledObjectWrapper:
    """Pickles the wrapped object with cloudpickle, whatever pickler is used."""

    def __init__(self, obj: Any, keep_wrapper: bool = False) -> None:
        self._obj = obj
        self._keep_wrapper = keep_wrapper

    def __reduce__(self) -> Any:
        import cloudpickle

        return _reconstruct_wrapper, (cloudpickle.dumps(self._obj), self._keep_wrapper)

    def __getattr__(self, name: str) -> Any:
        if name in ("_obj", "_keep_wrapper"):
            raise AttributeError(name)
        return getattr(self._obj, name)


class CallableObjectWrapper(CloudpickledObjectWrapper):
    """A callable :class:`CloudpickledObjectWrapper`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._obj(*args, **kwargs)


def _wrap(obj: Any, keep_wrapper: bool) -> CloudpickledObjectWrapper:
    if callable(obj):
        return CallableObjectWrapper(obj, keep_wrapper=keep_wrapper)
    return CloudpickledObjectWrapper(obj, keep_wrapper=keep_wrapper)


def _reconstruct_wrapper(data: bytes, keep_wrapper: bool) -> Any:
    obj = pickle.loads(data)
    return _wrap(obj, keep_wrapper) if keep_wrapper else obj


def wrap_non_picklable_objects(obj: Any, keep_wrapper: bool = True) -> Any:
    """Make ``obj`` travel with cloudpickle even through the standard pickler.

    Use as a decorator on functions or classes defined interactively or in
    ``__main__``. Our process backend already ships such functions with
    cloudpickle; the wrapper is for pickling paths that only use ``pickle``.

    Parameters
    ----------
    obj : callable, class or object
        What to wrap. A class gives a class whose instances are wrapped.
    keep_wrapper : bool, default True
        Keep the wrapper around the object after unpickling (so it can be pickled
        again, e.g. for nested calls).

    Returns
    -------
    object
        The wrapped object (or wrapping class).

    Examples
    --------
    >>> from joblet_parallel import Parallel, delayed, wrap_non_picklable_objects
    >>> @delayed
    ... @wrap_non_picklable_objects
    ... def double(i):
    ...     return 2 * i
    >>> Parallel(n_jobs=1)(double(i) for i in range(3))
    [0, 2, 4]
    """
    if isinstance(obj, type):

        class CloudpickledClassWrapper(CloudpickledObjectWrapper):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self._obj = obj(*args, **kwargs)
                self._keep_wrapper = keep_wrapper

        CloudpickledClassWrapper.__name__ = obj.__name__
        CloudpickledClassWrapper.__qualname__ = obj.__qualname__
        return CloudpickledClassWrapper
    return _wrap(obj, keep_wrapper)
