"""``python -m joblet_memory LOCATION COMMAND``: inspect and prune a cache.

Commands::

    list                         cached functions: entries, size, last access
    show FUNC                    one function's entries: size, when computed,
                                 how long it took, last access, arguments
    prune [--bytes 1G] [--items N] [--age 7d] [--leftovers] [--dry-run]
                                 remove least recently used entries until the
                                 cache fits, and the temporary files of killed
                                 writes older than a few minutes
    clear FUNC | --all           remove a function's entries (or everything)
    verify [--clear]             list entries that would be refused when loaded
                                 (unsigned, tampered, another key); --clear
                                 removes them
    why FUNC                     why the function recomputed: its code changes
                                 (what changed, when, entries removed), entries
                                 evicted by the limits, hits and misses

``LOCATION`` is a folder or an fsspec URL (``s3://bucket/prefix``); give a
remote store's options as ``-o name=value`` (JSON values), or through fsspec's
usual places (``FSSPEC_S3_ENDPOINT_URL``, AWS variables and profiles).

``FUNC`` is a function id as ``list`` prints it (``pkg/module/func``) or its
unique ending (``module/func``, ``func``).

Exit codes: 0 success; 1 the location holds no cache, the function is unknown
or ambiguous, or ``verify`` found entries that would be refused; 2 a wrong
command line (unknown command or option, a bad size or age).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from . import __version__
from ._explain import record_changes
from ._function_log import FunctionLog, record_evictions
from ._limits import CacheItemInfo, parse_age, parse_bytes, select_evictions
from ._stores._base import CACHE_FOLDER, StoreBackendBase
from ._stores._leftovers import find_leftovers, remove_stale
from ._stores._registry import is_url, make_store
from ._verbose import format_duration, format_size, format_when, plural

EXIT_CODES = """exit codes:
  0  success
  1  no cache at LOCATION, unknown or ambiguous FUNC, or `verify` found
     entries that would be refused
  2  wrong command line (unknown command or option, bad size or age)"""


def _backend_options(pairs: Sequence[str]) -> dict[str, object]:
    options: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"error: -o expects name=value, got {pair!r}")
        try:
            options[name] = json.loads(text)
        except ValueError:
            options[name] = text  # a plain string
    return options


def _store(location: str, options: dict[str, object] | None = None) -> StoreBackendBase:
    if not is_url(location) and not os.path.isdir(os.path.join(location, CACHE_FOLDER)):
        raise SystemExit(
            f"error: {location!r} holds no joblet cache (no {CACHE_FOLDER}/ folder); "
            "give the location passed to Memory(...)"
        )
    store = make_store(location, "local", 0, options)
    assert store is not None
    if is_url(location) and not store.function_ids():
        raise SystemExit(
            f"error: {location!r} holds no joblet cache (nothing under "
            f"{store.location}); give the location passed to Memory(...)"
        )
    return store


def _function_ids(store: StoreBackendBase) -> list[str]:
    return store.function_ids()


def _resolve(store: StoreBackendBase, name: str) -> str:
    ids = _function_ids(store)
    if name in ids:
        return name
    matches = [func_id for func_id in ids if func_id.endswith("/" + name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise SystemExit(
            f"error: no cached function {name!r}; cached: {', '.join(ids) or 'none'}"
        )
    raise SystemExit(f"error: {name!r} is ambiguous: {', '.join(matches)}")


def _cmd_list(store: StoreBackendBase) -> int:
    by_function: dict[str, list[CacheItemInfo]] = {
        func_id: [] for func_id in _function_ids(store)
    }
    for item in store.get_items():
        by_function.setdefault(item.func_id, []).append(item)
    if not by_function:
        print("the cache is empty")
        return 0
    width = max(len(name) for name in [*by_function, "function"])
    print(
        f"{'function':<{width}}  {'entries':>7}  {'size':>10}  {'hits':>6}  "
        f"{'misses':>6}  {'saved':>10}  last access"
    )
    total = 0
    for func_id, items in sorted(by_function.items()):
        size = sum(item.size for item in items)
        total += size
        counts = FunctionLog.read(store, func_id).counters
        last = format_when(max(item.last_access for item in items)) if items else "-"
        print(
            f"{func_id:<{width}}  {len(items):>7}  {format_size(size):>10}  "
            f"{counts.hits:>6}  {counts.misses:>6}  "
            f"{format_duration(counts.time_saved):>10}  {last}"
        )
    leftovers = find_leftovers(store)
    if leftovers:
        size = sum(leftover.size for leftover in leftovers)
        total += size
        print(
            f"{'(killed writes)':<{width}}  {'':>7}  {format_size(size):>10}  "
            f"{plural(len(leftovers), 'temporary file')}; prune removes the stale ones"
        )
    count = sum(len(items) for items in by_function.values())
    print(f"{'total':<{width}}  {count:>7}  {format_size(total):>10}")
    return 0


def _cmd_show(store: StoreBackendBase, name: str) -> int:
    func_id = _resolve(store, name)
    items = sorted(
        store.get_items(func_id), key=lambda item: item.last_access, reverse=True
    )
    print(
        f"{func_id}: {plural(len(items), 'entry', 'entries')}, {format_size(sum(i.size for i in items))}"
    )
    for item in items:
        try:
            metadata = store.get_metadata((item.func_id, item.args_id))
        except (KeyError, ValueError, OSError):
            metadata = {}
        computed = metadata.get("time")
        duration = metadata.get("duration")
        print(f"  {item.args_id}  {format_size(item.size)}")
        if isinstance(computed, (int, float)):
            took = (
                f" in {format_duration(duration)}"
                if isinstance(duration, (int, float))
                else ""
            )
            print(f"    computed {format_when(computed)}{took}")
        print(f"    last access {format_when(item.last_access)}")
        for arg, text in (metadata.get("input_args") or {}).items():
            text = str(text).replace("\n", " ")
            print(f"    {arg} = {text[:100] + '...' if len(text) > 100 else text}")
    return 0


def _cmd_prune(store: StoreBackendBase, args: argparse.Namespace) -> int:
    limits = (parse_bytes(args.bytes), args.items, parse_age(args.age))
    if limits == (None, None, None) and not args.leftovers:
        raise SystemExit(
            "error: give at least one of --bytes, --items, --age, --leftovers"
        )
    verb = "would remove" if args.dry_run else "removed"
    stale = remove_stale(find_leftovers(store), dry_run=args.dry_run)
    for leftover in stale:
        print(
            f"{verb} {leftover.path} ({format_size(leftover.size)}, "
            "left by a killed write)"
        )
    items = store.get_items()
    evicted = select_evictions(items, time.time(), *limits)
    for item in evicted:
        if not args.dry_run:
            store.clear_item((item.func_id, item.args_id))
    if evicted and not args.dry_run:
        record_evictions(store, evicted)  # so that `explain` says why
    for item in evicted:
        print(
            f"{verb} {item.func_id}/{item.args_id} ({format_size(item.size)}, "
            f"last access {format_when(item.last_access)})"
        )
    kept = len(items) - len(evicted)
    kept_size = sum(i.size for i in items) - sum(i.size for i in evicted)
    print(
        f"{verb} {plural(len(evicted), 'entry', 'entries')}; "
        f"{plural(kept, 'entry', 'entries')}, {format_size(kept_size)} left"
    )
    return 0


def _cmd_clear(store: StoreBackendBase, args: argparse.Namespace) -> int:
    if args.all:
        store.clear_path("")
        print(f"cleared {store.location}")
        return 0
    if not args.function:
        raise SystemExit("error: give a function (see `list`) or --all")
    func_id = _resolve(store, args.function)
    count = len(store.get_items(func_id))
    store.clear_path(func_id)
    print(f"cleared {func_id} ({plural(count, 'entry', 'entries')})")
    return 0


def _cmd_verify(store: StoreBackendBase, args: argparse.Namespace) -> int:
    items = store.get_items()
    refused = 0
    for item in sorted(items, key=lambda item: (item.func_id, item.args_id)):
        call_id = (item.func_id, item.args_id)
        try:
            problem = store.verify_item(call_id)
        except KeyError:
            continue  # removed meanwhile
        if problem is None:
            continue
        refused += 1
        print(f"{item.func_id}/{item.args_id}: {problem}")
        if args.clear:
            store.clear_item(call_id)
    action = "removed" if args.clear else "would be refused"
    print(f"{plural(len(items), 'entry', 'entries')} checked, {refused} {action}")
    return 1 if refused and not args.clear else 0


def _cmd_why(store: StoreBackendBase, name: str) -> int:
    func_id = _resolve(store, name)
    log = FunctionLog.read(store, func_id)
    counts = log.counters
    print(
        f"{func_id}: {plural(counts.hits, 'hit')}, {plural(counts.misses, 'miss', 'misses')}, "
        f"{plural(counts.stores, 'store')}, {plural(counts.evictions, 'eviction')}, "
        f"{format_duration(counts.time_saved)} saved"
    )
    if log.record is None:
        print("  no code record stored")
        return 0
    newer = log.record
    past_records = log.past_records()
    if not past_records:
        print("  its code has not changed since it was first cached")
    for past, entry in past_records:
        reason, details = record_changes(past, newer)
        removed = len(entry.get("removed") or [])
        print(
            f"  {format_when(entry.get('replaced_at'))}: {reason}; "
            f"{plural(removed, 'entry', 'entries')} removed"
        )
        for detail in details:
            for line in detail.splitlines():
                print(f"    {line}")
        newer = past
    if log.evicted:
        last = max(log.evicted.values())
        print(
            f"  {plural(len(log.evicted), 'entry', 'entries')} evicted by the cache "
            f"limits, last on {format_when(last)}"
        )
    untracked = [
        f"{name} ({dep.detail})" if dep.detail else name
        for name, dep in sorted(log.record.dependencies.items())
        if dep.digest is None
    ]
    if untracked:
        print("  not part of the key (changes there do not invalidate):")
        for line in untracked:
            print(f"    {line}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m joblet_memory",
        description="Inspect and prune a joblet-memory cache.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"joblet-memory {__version__}"
    )
    parser.add_argument("location", help="the location given to Memory(...)")
    parser.add_argument(
        "-o",
        "--backend-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a store option, as Memory(backend_options=...) (repeatable)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="cached functions with entries, size, last access")
    show = commands.add_parser("show", help="one function's entries")
    show.add_argument("function")
    prune = commands.add_parser("prune", help="remove least recently used entries")
    prune.add_argument("--bytes", help="keep at most this size (500M, 2G)")
    prune.add_argument("--items", type=int, help="keep at most this many entries")
    prune.add_argument("--age", help="remove entries unused for longer (30m, 12h, 7d)")
    prune.add_argument(
        "--leftovers",
        action="store_true",
        help="only remove temporary files of killed writes (always removed)",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="only print what would go"
    )
    clear = commands.add_parser("clear", help="remove a function's entries")
    clear.add_argument("function", nargs="?")
    clear.add_argument("--all", action="store_true", help="remove everything")
    verify = commands.add_parser(
        "verify", help="list entries that are unsigned or tampered with"
    )
    verify.add_argument("--clear", action="store_true", help="remove them")
    why = commands.add_parser(
        "why", help="why a function recomputed: code changes, evictions, counts"
    )
    why.add_argument("function")
    args = parser.parse_args(argv)
    try:
        store = _store(args.location, _backend_options(args.backend_option))
        if args.command == "list":
            return _cmd_list(store)
        if args.command == "show":
            return _cmd_show(store, args.function)
        if args.command == "prune":
            return _cmd_prune(store, args)
        if args.command == "verify":
            return _cmd_verify(store, args)
        if args.command == "why":
            return _cmd_why(store, args.function)
        return _cmd_clear(store, args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run() -> int:
    """:func:`main`, ending quietly when the reader of its output leaves.

    ``python -m joblet_memory LOCATION show FUNC | head`` closes the pipe
    early; like any Unix tool the command then stops without a traceback.
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at nothing first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code


if __name__ == "__main__":
    sys.exit(run())
