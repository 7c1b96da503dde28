"""Why a call is a hit or a miss: ``MemorizedFunc.explain`` and the CLI's ``why``.

A miss has one of these reasons (:class:`Explanation` ``.reason``):

``no entry``
    Nothing was stored for these arguments; the closest entries are listed
    with the argument paths that differ (``x['weights']``).
``own code changed``
    The entry was computed by other code of the function itself; a short diff
    is shown when the old source was stored.
``dependency changed``
    A function, class or constant it uses (or a ``depends_on`` item) changed.
``version changed``
    A tracked distribution has another version (``track_versions=True``).
``expired``
    The ``cache_validation_callback`` rejected the entry.
``unreadable``
    The entry exists but cannot be read (damaged or truncated).
``evicted``
    The cache limits removed the entry.

Entries store a digest of each argument (and of the items of small dicts,
lists and tuples, a few levels deep), so that a miss can say which part of
which argument differs from the closest entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joblet_hash import FAST_HASH_NAME, UnhashableObjectError
from joblet_hash import hash as hash_value

from ._code import CodeRecord, source_diff
from ._deps import DISTRIBUTION
from ._function_log import FunctionLog
from ._hits import validate
from ._types import ValidationCallback
from ._verbose import format_duration, format_when, plural

HIT = "hit"
CACHING_OFF = "caching off"
NO_ENTRY = "no entry"
OWN_CODE_CHANGED = "own code changed"
DEPENDENCY_CHANGED = "dependency changed"
VERSION_CHANGED = "version changed"
EXPIRED = "expired"
UNREADABLE = "unreadable"
EVICTED = "evicted"

MAX_ITEMS = 64
MAX_DEPTH = 4
CLOSEST = 3
MAX_ENTRIES_COMPARED = 200


@dataclass(frozen=True)
class Explanation:
    """The answer of ``explain``: ``print()`` it for a readable report.

    Attributes
    ----------
    hit : bool
        Whether the call would be answered from the cache.
    reason : str
        ``'hit'``, or why it misses (see :mod:`joblet_memory._explain`).
    summary : str
        One sentence.
    details : list of str
        What differs: argument paths, changed dependencies, a source diff.
    """

    hit: bool
    reason: str
    summary: str
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{'hit' if self.hit else 'miss'}: {self.summary}"]
        lines += [
            f"  {line}" for detail in self.details for line in detail.splitlines()
        ]
        return "\n".join(lines)


# -- argument digests -----------------------------------------------------------


def _digest(value: Any) -> str:
    try:
        return hash_value(value, FAST_HASH_NAME)
    except (UnhashableObjectError, RecursionError):
        return "unhashable"


def _tree(value: Any, depth: int) -> Any:
    if (
        depth < MAX_DEPTH
        and isinstance(value, dict)
        and len(value) <= MAX_ITEMS
        and all(isinstance(k, (str, int, float, bool, type(None))) for k in value)
    ):
        return {"dict": {repr(k): _tree(v, depth + 1) for k, v in value.items()}}
    if (
        depth < MAX_DEPTH
        and isinstance(value, (list, tuple))
        and len(value) <= MAX_ITEMS
    ):
        return {"list": [_tree(item, depth + 1) for item in value]}
    return _digest(value)


def argument_digests(
    bound: Mapping[str, Any], files: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Digests of each argument, with the items of small containers."""
    tree = {name: _tree(value, 0) for name, value in bound.items()}
    for path, digest in (files or {}).items():
        tree[f"depends_on[{path!r}]"] = digest
    return tree


def _differences(path: str, a: Any, b: Any, out: list[str]) -> None:
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        kind = next(iter(a))
        if kind == "dict":
            left, right = a[kind], b[kind]
            for key in sorted(set(left) | set(right)):
                if key not in left or key not in right:
                    where = "this call" if key in left else "the entry"
                    out.append(f"{path}[{key}] (only in {where})")
                else:
                    _differences(f"{path}[{key}]", left[key], right[key], out)
            return
        if kind == "list" and len(a[kind]) == len(b[kind]):
            for index, (x, y) in enumerate(zip(a[kind], b[kind], strict=True)):
                _differences(f"{path}[{index}]", x, y, out)
            return
        if kind == "list":
            out.append(f"{path} (length {len(a[kind])} here, {len(b[kind])} stored)")
            return
    out.append(path)


def differing_paths(current: Mapping[str, Any], stored: Mapping[str, Any]) -> list[str]:
    """The argument paths where two argument digest trees differ."""
    out: list[str] = []
    for name in list(current) + [n for n in stored if n not in current]:
        if name not in stored or name not in current:
            out.append(
                f"{name} (only in {'this call' if name in current else 'the entry'})"
            )
        else:
            _differences(name, current[name], stored[name], out)
    return out


# -- code changes ---------------------------------------------------------------


def record_changes(old: CodeRecord, new: CodeRecord) -> tuple[str, list[str]]:
    """Why ``old`` and ``new`` give different keys: a reason and details."""
    if old.own_digest != new.own_digest:
        diff = source_diff(old.source, new.source)
        return OWN_CODE_CHANGED, [diff] if diff else ["(the old source was not stored)"]
    versions, others = [], []
    names = set(old.dependencies) | set(new.dependencies)
    for name in sorted(names):
        before, after = old.dependencies.get(name), new.dependencies.get(name)
        if (before and before.digest) == (after and after.digest):
            continue
        if (before or after) and (before or after).kind == DISTRIBUTION:  # type: ignore[union-attr]
            versions.append(
                f"{name}: {before.detail if before else 'not tracked'} -> "
                f"{after.detail if after else 'not tracked'}"
            )
        elif before is None or before.digest is None:
            others.append(f"{name} (new dependency)")
        elif after is None or after.digest is None:
            others.append(f"{name} (no longer used)")
        else:
            others.append(f"{name} ({after.kind} changed)")
    if others:
        return DEPENDENCY_CHANGED, others + versions
    if versions:
        return VERSION_CHANGED, versions
    return OWN_CODE_CHANGED, ["the code record differs (another Python version?)"]


def explain_existing_entry(
    store: Any,
    call_id: tuple[str, str],
    callback: ValidationCallback | None,
) -> Explanation | None:
    """The explanation when an entry exists: a hit, expired or unreadable."""
    if not store.contains_item(call_id):
        return None
    valid, metadata = validate(store, call_id, callback)
    if metadata is None:
        try:
            metadata = store.get_metadata(call_id)
        except (KeyError, ValueError, OSError):
            metadata = {}
    computed = format_when(metadata.get("time"))
    if not valid:
        return Explanation(
            False,
            EXPIRED,
            f"the entry (computed {computed}) was rejected by the "
            "cache_validation_callback",
        )
    try:
        store.load_item(call_id, "r")
    except Exception as error:
        return Explanation(
            False,
            UNREADABLE,
            f"the entry at {store.item_location(call_id)} cannot be read "
            f"({type(error).__name__}: {error})",
        )
    duration = metadata.get("duration")
    took = (
        f", took {format_duration(duration)}"
        if isinstance(duration, (int, float))
        else ""
    )
    return Explanation(True, HIT, f"the entry was computed {computed}{took}")


@dataclass
class MissExplainer:
    """Finds why one call misses, one step per possible reason.

    Parameters
    ----------
    store : StoreBackendBase
    func_id, name : str
        The function's id and display name.
    record : CodeRecord
        The function's code record now.
    entry_id : callable
        ``entry_id(code_digest) -> args_id`` of these arguments under that code.
    tree : dict
        The argument digests of the call.
    """

    store: Any
    func_id: str
    name: str
    record: CodeRecord
    entry_id: Any
    tree: dict[str, Any]
    log: FunctionLog = field(init=False)

    def __post_init__(self) -> None:
        self.log = FunctionLog.read(self.store, self.func_id)

    def explain(self) -> Explanation:
        return self.evicted() or self.code_changed() or self.no_entry()

    def evicted(self) -> Explanation | None:
        when = self.log.evicted.get(self.entry_id(self.record.digest))
        if when is None:
            return None
        return Explanation(
            False,
            EVICTED,
            f"the entry was removed by the cache limits on {format_when(when)}",
        )

    def code_changed(self) -> Explanation | None:
        newer = self.record
        for past, entry in self.log.past_records():
            args_id = self.entry_id(past.digest)
            removed = entry.get("removed") or []
            if args_id in removed or self.store.contains_item((self.func_id, args_id)):
                reason, details = record_changes(past, newer)
                what = {
                    OWN_CODE_CHANGED: f"the code of {self.name} changed",
                    DEPENDENCY_CHANGED: f"a dependency of {self.name} changed",
                    VERSION_CHANGED: "a tracked distribution has another version",
                }[reason]
                when = format_when(entry.get("replaced_at"))
                return Explanation(
                    False,
                    reason,
                    f"{what} (seen {when}); the entry was computed before",
                    details,
                )
            newer = past
        return None

    def no_entry(self) -> Explanation:
        compared = []
        try:
            items = sorted(
                self.store.get_items(self.func_id),
                key=lambda item: item.last_access,
                reverse=True,
            )[:MAX_ENTRIES_COMPARED]
        except OSError:
            items = []
        for item in items:
            try:
                metadata = self.store.get_metadata((item.func_id, item.args_id))
            except (KeyError, ValueError, OSError):
                continue
            stored = metadata.get("argument_digests")
            if not isinstance(stored, dict):
                continue
            paths = differing_paths(self.tree, stored)
            other_code = metadata.get("code") != self.record.digest
            compared.append(
                (len(paths) + other_code, item.args_id, paths, other_code, metadata)
            )
        compared.sort(key=lambda c: c[0])
        details = []
        for _, args_id, paths, other_code, metadata in compared[:CLOSEST]:
            differs = ", ".join(paths) if paths else "no argument"
            code = "; computed by other code" if other_code else ""
            details.append(
                f"closest entry {args_id[:12]} (computed {format_when(metadata.get('time'))}{code}): "
                f"differs at {differs}"
            )
        count = len(items)
        summary = (
            f"no entry for these arguments ({plural(count, 'other entry', 'other entries')} "
            f"of {self.name})"
        )
        return Explanation(False, NO_ENTRY, summary, details)
