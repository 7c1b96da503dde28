"""The opcodes of pickle protocols 0 to 5, read and applied by our own loop.

Every argument is read here, with its length charged to the walk's budget
before the bytes are read; values are pushed, containers built, and every
call, BUILD and modification handed to the :class:`~._walk.Walk`, which
decides what is allowed. Nothing here imports or calls anything.
"""

from __future__ import annotations

import codecs
import pickle
import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._walk_values import CONTAINER_BYTES, SLOT_BYTES, Opaque, truncated

if TYPE_CHECKING:
    from ._walk import Walk

_HIGHEST = 5
_MARK = object()


class _Machine:
    def __init__(self, walk: Walk) -> None:
        self.walk = walk
        self.read_raw = walk.file.read
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.result: Any = _MARK

    # -- reading

    def read(self, n: int, what: str) -> bytes:
        """Exactly ``n`` bytes, read in steps (a damaged length fails at the end)."""
        data = self.read_raw(min(n, _STEP))
        if len(data) == n:
            return data
        if not data and n:
            raise truncated(self.walk.where, what)
        parts, left = [data], n - len(data)
        while left:
            data = self.read_raw(min(left, _STEP))
            if not data:
                raise truncated(self.walk.where, what)
            parts.append(data)
            left -= len(data)
        return b"".join(parts)

    def sized(self, width: str, what: str, charge: bool = True) -> bytes:
        size = struct.calcsize(width)
        n = struct.unpack(width, self.read(size, what))[0]
        if n < 0:
            raise self.walk.fail(f"{what} has a negative length")
        if charge:
            self.walk.budget.charge(n, what)
        return self.read(n, what)

    def line(self, what: str) -> bytes:
        readline = getattr(self.walk.file, "readline", None)
        if readline is None:
            raise self.walk.fail(f"{what} needs a line-reading stream")
        data: bytes = readline(_LINE_LIMIT)
        if not data.endswith(b"\n"):
            if len(data) >= _LINE_LIMIT:
                raise self.walk.fail(f"{what} is longer than {_LINE_LIMIT} bytes")
            raise truncated(self.walk.where, what)
        return data[:-1]

    # -- stack

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise self.walk.fail("it pops a MARK that was never pushed")
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def pop(self) -> Any:
        if not self.stack:
            raise self.walk.fail("it pops an empty stack")
        return self.stack.pop()

    def top(self) -> Any:
        if not self.stack:
            raise self.walk.fail("it uses an empty stack")
        return self.stack[-1]

    def push_container(self, value: Any, count: int) -> None:
        self.walk.budget.charge(CONTAINER_BYTES + SLOT_BYTES * count, "a container")
        self.stack.append(value)

    def run(self) -> Any:
        table = _DISPATCH
        read = self.read_raw
        while self.result is _MARK:
            code = read(1)
            if not code:
                raise truncated(self.walk.where, "its opcodes (no STOP)")
            handler = table.get(code[0])
            if handler is None:
                raise self.walk.fail(f"unknown pickle opcode {code!r}")
            handler(self)
        return self.result


_STEP = 1 << 20
_LINE_LIMIT = 1 << 16
_DISPATCH: dict[int, Callable[[_Machine], None]] = {}


def _op(*opcodes: bytes) -> Callable[[Callable[[_Machine], None]], Any]:
    def register(func: Callable[[_Machine], None]) -> Any:
        for opcode in opcodes:
            _DISPATCH[opcode[0]] = func
        return func

    return register


def run_opcodes(walk: Walk) -> Any:
    """Run the stream of ``walk`` to its STOP; the value it leaves."""
    return _Machine(walk).run()


# -- framing and control


@_op(pickle.PROTO)
def _proto(m: _Machine) -> None:
    proto = m.read(1, "PROTO")[0]
    if proto > _HIGHEST:
        raise m.walk.fail(f"unsupported pickle protocol {proto}")
    m.walk.proto = proto


@_op(pickle.FRAME)
def _frame(m: _Machine) -> None:
    m.read(8, "FRAME")  # frames are read as they come: their length is a hint


@_op(pickle.STOP)
def _stop(m: _Machine) -> None:
    if m.marks or len(m.stack) != 1:
        raise m.walk.fail("its STOP leaves a stack that is not one value")
    m.result = m.walk.value(m.stack.pop())


@_op(pickle.MARK)
def _mark(m: _Machine) -> None:
    m.marks.append(m.stack)
    m.stack = []


@_op(pickle.POP)
def _pop(m: _Machine) -> None:
    if m.stack:
        m.stack.pop()
    else:
        m.pop_mark()


@_op(pickle.POP_MARK)
def _pop_mark(m: _Machine) -> None:
    m.pop_mark()


@_op(pickle.DUP)
def _dup(m: _Machine) -> None:
    m.stack.append(m.top())


# -- scalars


@_op(pickle.NONE)
def _none(m: _Machine) -> None:
    m.stack.append(None)


@_op(pickle.NEWTRUE)
def _true(m: _Machine) -> None:
    m.stack.append(True)


@_op(pickle.NEWFALSE)
def _false(m: _Machine) -> None:
    m.stack.append(False)


@_op(pickle.BININT)
def _binint(m: _Machine) -> None:
    m.stack.append(struct.unpack("<i", m.read(4, "BININT"))[0])


@_op(pickle.BININT1)
def _binint1(m: _Machine) -> None:
    m.stack.append(m.read(1, "BININT1")[0])


@_op(pickle.BININT2)
def _binint2(m: _Machine) -> None:
    m.stack.append(struct.unpack("<H", m.read(2, "BININT2"))[0])


@_op(pickle.LONG1)
def _long1(m: _Machine) -> None:
    n = m.read(1, "LONG1")[0]
    m.stack.append(int.from_bytes(m.read(n, "LONG1"), "little", signed=True))


@_op(pickle.LONG4)
def _long4(m: _Machine) -> None:
    data = m.sized("<i", "a LONG4 integer")
    m.stack.append(int.from_bytes(data, "little", signed=True))


@_op(pickle.INT)
def _int(m: _Machine) -> None:
    data = m.line("INT")
    if data in (b"00", b"01"):
        m.stack.append(data == b"01")
    else:
        m.stack.append(int(data, 0))


@_op(pickle.LONG)
def _long(m: _Machine) -> None:
    data = m.line("LONG")
    m.stack.append(int(data[:-1] if data.endswith(b"L") else data, 0))


@_op(pickle.FLOAT)
def _float(m: _Machine) -> None:
    m.stack.append(float(m.line("FLOAT")))


@_op(pickle.BINFLOAT)
def _binfloat(m: _Machine) -> None:
    m.stack.append(struct.unpack(">d", m.read(8, "BINFLOAT"))[0])


# -- strings and bytes


def _text(m: _Machine, data: bytes) -> None:
    m.stack.append(str(data, "utf-8", "surrogatepass"))


@_op(pickle.SHORT_BINUNICODE)
def _short_unicode(m: _Machine) -> None:
    _text(m, m.sized("<B", "a string", charge=False))


@_op(pickle.BINUNICODE)
def _unicode4(m: _Machine) -> None:
    _text(m, m.sized("<I", "a string"))


@_op(pickle.BINUNICODE8)
def _unicode8(m: _Machine) -> None:
    _text(m, m.sized("<Q", "a string"))


@_op(pickle.UNICODE)
def _unicode_line(m: _Machine) -> None:
    m.stack.append(str(m.line("UNICODE"), "raw-unicode-escape"))


def _py2_string(m: _Machine, data: bytes) -> None:
    # Python 2 str: read as pickle's default encoding does ("ASCII")
    m.stack.append(data.decode("ascii"))


@_op(pickle.STRING)
def _string(m: _Machine) -> None:
    data = m.line("STRING")
    if len(data) < 2 or data[0] != data[-1] or data[:1] not in (b'"', b"'"):
        raise m.walk.fail("a STRING opcode is not quoted")
    _py2_string(m, codecs.escape_decode(data[1:-1])[0])


@_op(pickle.BINSTRING)
def _binstring(m: _Machine) -> None:
    _py2_string(m, m.sized("<i", "a string"))


@_op(pickle.SHORT_BINSTRING)
def _short_binstring(m: _Machine) -> None:
    _py2_string(m, m.sized("<B", "a string", charge=False))


@_op(pickle.SHORT_BINBYTES)
def _short_bytes(m: _Machine) -> None:
    m.stack.append(m.sized("<B", "bytes", charge=False))


@_op(pickle.BINBYTES)
def _bytes4(m: _Machine) -> None:
    m.stack.append(m.sized("<I", "bytes"))


@_op(pickle.BINBYTES8)
def _bytes8(m: _Machine) -> None:
    m.stack.append(m.sized("<Q", "bytes"))


@_op(pickle.BYTEARRAY8)
def _bytearray8(m: _Machine) -> None:
    m.stack.append(bytearray(m.sized("<Q", "a bytearray")))


@_op(pickle.NEXT_BUFFER)
def _next_buffer(m: _Machine) -> None:
    m.stack.append(m.walk.next_buffer())


@_op(pickle.READONLY_BUFFER)
def _readonly_buffer(m: _Machine) -> None:
    buffer = m.top()
    if isinstance(buffer, (bytes, bytearray, memoryview)):
        m.stack[-1] = memoryview(buffer).toreadonly()


# -- containers


@_op(pickle.EMPTY_TUPLE)
def _empty_tuple(m: _Machine) -> None:
    m.stack.append(())


def _make_tuple_n(n: int) -> Callable[[_Machine], None]:
    def tuple_n(m: _Machine) -> None:
        if len(m.stack) < n:
            raise m.walk.fail(f"TUPLE{n} on a stack of {len(m.stack)}")
        items = m.walk.values(m.stack[-n:])
        del m.stack[-n:]
        m.push_container(tuple(items), n)

    return tuple_n


for _n, _code in ((1, pickle.TUPLE1), (2, pickle.TUPLE2), (3, pickle.TUPLE3)):
    _DISPATCH[_code[0]] = _make_tuple_n(_n)


def _from_mark(kind: Callable[[list[Any]], Any]) -> Callable[[_Machine], None]:
    """TUPLE, LIST, FROZENSET: the checked items above the mark, in a new container."""

    def from_mark(m: _Machine) -> None:
        items = m.walk.values(m.pop_mark())
        m.push_container(kind(items), len(items))

    return from_mark


def _empty(kind: Callable[[], Any]) -> Callable[[_Machine], None]:
    """EMPTY_LIST, EMPTY_DICT, EMPTY_SET: a new empty container."""

    def empty(m: _Machine) -> None:
        m.push_container(kind(), 0)

    return empty


def _same_list(items: list[Any]) -> list[Any]:
    return items  # pop_mark already made a new list: no copy


for _code, _kind in ((pickle.TUPLE, tuple), (pickle.FROZENSET, frozenset)):
    _DISPATCH[_code[0]] = _from_mark(_kind)
_DISPATCH[pickle.LIST[0]] = _from_mark(_same_list)
for _code, _empty_kind in ((pickle.EMPTY_LIST, list), (pickle.EMPTY_SET, set)):
    _DISPATCH[_code[0]] = _empty(_empty_kind)
_DISPATCH[pickle.EMPTY_DICT[0]] = _empty(dict)


def _pairs(m: _Machine, target: Any, items: list[Any]) -> None:
    if len(items) % 2:
        raise m.walk.fail("a dict is given an odd number of items")
    m.walk.budget.charge(2 * SLOT_BYTES * len(items), "dict items")
    m.walk.values(items)
    for i in range(0, len(items), 2):
        target[items[i]] = items[i + 1]


@_op(pickle.DICT)
def _dict(m: _Machine) -> None:
    items = m.pop_mark()
    target: dict[Any, Any] = {}
    _pairs(m, target, items)
    m.push_container(target, 0)


@_op(pickle.APPEND)
def _append(m: _Machine) -> None:
    value = m.walk.value(m.pop())
    target = m.walk.mutable(m.top(), "APPEND")
    m.walk.budget.charge(SLOT_BYTES, "a list item")
    _extend(m, target, [value])


@_op(pickle.APPENDS)
def _appends(m: _Machine) -> None:
    items = m.walk.values(m.pop_mark())
    target = m.walk.mutable(m.top(), "APPENDS")
    m.walk.budget.charge(SLOT_BYTES * len(items), "list items")
    _extend(m, target, items)


def _extend(m: _Machine, target: Any, items: list[Any]) -> None:
    if isinstance(target, (list, deque)):
        target.extend(items)
    elif isinstance(target, (dict, set)):
        raise m.walk.fail(f"it appends to a {type(target).__name__}")
    elif not m.walk.dry or not _is_opaque(target):
        extend = getattr(target, "extend", None)
        if extend is not None:
            extend(items)
        else:
            for item in items:
                target.append(item)


def _is_opaque(value: Any) -> bool:
    return isinstance(value, Opaque)


@_op(pickle.SETITEM)
def _setitem(m: _Machine) -> None:
    value, key = m.pop(), m.pop()
    target = m.walk.mutable(m.top(), "SETITEM")
    _setitems(m, target, [key, value])


@_op(pickle.SETITEMS)
def _setitems_op(m: _Machine) -> None:
    items = m.pop_mark()
    target = m.walk.mutable(m.top(), "SETITEMS")
    _setitems(m, target, items)


def _setitems(m: _Machine, target: Any, items: list[Any]) -> None:
    if isinstance(target, (list, set, deque)):
        raise m.walk.fail(f"it sets items of a {type(target).__name__}")
    if _is_opaque(target):
        m.walk.values(items)
        return
    _pairs(m, target, items)


@_op(pickle.ADDITEMS)
def _additems(m: _Machine) -> None:
    items = m.walk.values(m.pop_mark())
    target = m.walk.mutable(m.top(), "ADDITEMS")
    m.walk.budget.charge(SLOT_BYTES * len(items), "set items")
    if isinstance(target, set):
        target.update(items)
    elif not _is_opaque(target):
        if isinstance(target, (list, dict)):
            raise m.walk.fail(f"it adds set items to a {type(target).__name__}")
        for item in items:
            target.add(item)


# -- memo


@_op(pickle.MEMOIZE)
def _memoize(m: _Machine) -> None:
    m.walk.memoize(m.top())


@_op(pickle.PUT)
def _put(m: _Machine) -> None:
    m.walk.remember(int(m.line("PUT")), m.top())


@_op(pickle.BINPUT)
def _binput(m: _Machine) -> None:
    m.walk.remember(m.read(1, "BINPUT")[0], m.top())


@_op(pickle.LONG_BINPUT)
def _long_binput(m: _Machine) -> None:
    m.walk.remember(struct.unpack("<I", m.read(4, "LONG_BINPUT"))[0], m.top())


@_op(pickle.GET)
def _get(m: _Machine) -> None:
    m.stack.append(m.walk.recall(int(m.line("GET"))))


@_op(pickle.BINGET)
def _binget(m: _Machine) -> None:
    m.stack.append(m.walk.recall(m.read(1, "BINGET")[0]))


@_op(pickle.LONG_BINGET)
def _long_binget(m: _Machine) -> None:
    m.stack.append(m.walk.recall(struct.unpack("<I", m.read(4, "LONG_BINGET"))[0]))


# -- globals, calls, state


def _name(data: bytes) -> str:
    return data.decode("utf-8")


@_op(pickle.GLOBAL)
def _global(m: _Machine) -> None:
    module = _name(m.line("GLOBAL"))
    name = _name(m.line("GLOBAL"))
    m.stack.append(m.walk.resolve_global(module, name))


@_op(pickle.STACK_GLOBAL)
def _stack_global(m: _Machine) -> None:
    name, module = m.pop(), m.pop()
    if not isinstance(name, str) or not isinstance(module, str):
        raise m.walk.fail("STACK_GLOBAL needs two strings")
    m.stack.append(m.walk.resolve_global(module, name))


@_op(pickle.EXT1, pickle.EXT2, pickle.EXT4)
def _ext(m: _Machine) -> None:
    m.walk.found.name("copyreg extension registry")
    raise m.walk.fail("it uses the copyreg extension registry, which is not read")


@_op(pickle.REDUCE)
def _reduce(m: _Machine) -> None:
    args = m.walk.value(m.pop())
    func = m.pop()
    m.stack.append(m.walk.call(func, args, {}))


@_op(pickle.NEWOBJ)
def _newobj(m: _Machine) -> None:
    args = m.walk.value(m.pop())
    cls = m.pop()
    m.stack.append(m.walk.call(cls, args, {}, new=True))


@_op(pickle.NEWOBJ_EX)
def _newobj_ex(m: _Machine) -> None:
    kwargs = m.walk.value(m.pop())
    args = m.walk.value(m.pop())
    cls = m.pop()
    m.stack.append(m.walk.call(cls, args, kwargs, new=True))


@_op(pickle.INST)
def _inst(m: _Machine) -> None:
    module = _name(m.line("INST"))
    name = _name(m.line("INST"))
    cls = m.walk.resolve_global(module, name)
    args = tuple(m.walk.values(m.pop_mark()))
    m.stack.append(m.walk.call(cls, args, {}))


@_op(pickle.OBJ)
def _obj(m: _Machine) -> None:
    items = m.walk.values(m.pop_mark())
    if not items:
        raise m.walk.fail("OBJ without a class")
    m.stack.append(m.walk.call(items[0], tuple(items[1:]), {}))


@_op(pickle.BUILD)
def _build(m: _Machine) -> None:
    state = m.walk.value(m.pop())
    target = m.top()
    m.stack[-1] = m.walk.build(target, state)


@_op(pickle.PERSID)
def _persid(m: _Machine) -> None:
    _persistent(m, m.line("PERSID").decode("ascii"))


@_op(pickle.BINPERSID)
def _binpersid(m: _Machine) -> None:
    _persistent(m, m.pop())


def _persistent(m: _Machine, pid: Any) -> None:
    from ._format import BUFFER_PERSISTENT_ID

    if pid != BUFFER_PERSISTENT_ID:
        raise m.walk.fail(f"unknown persistent id {pid!r:.80}")
    m.stack.append(m.walk.next_buffer())
