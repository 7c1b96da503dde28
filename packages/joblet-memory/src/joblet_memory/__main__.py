"""``python -m joblet_memory LOCATION COMMAND``: inspect and prune a cache.

Commands::

    list                         cached functions: entries, size, last access
    show FUNC                    one function's entries: size, when computed,
                                 how long it took, last access, arguments
    prune [--bytes 1G] [--items N] [--age 7d] [--dry-run]
                                 remove least recently used entries until the
                                 cache fits
    clear FUNC | --all           remove a function's entries (or everything)

``FUNC`` is a function id as ``list`` prints it (``pkg/module/func``) or its
unique ending (``module/func``, ``func``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from collections.abc import Sequence

from ._limits import CacheItemInfo, parse_age, parse_bytes, select_evictions
from ._store import CACHE_FOLDER, FileSystemStoreBackend


def _size(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TB"  # pragma: no cover


def _when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _store(location: str) -> FileSystemStoreBackend:
    if not os.path.isdir(os.path.join(location, CACHE_FOLDER)):
        raise SystemExit(
            f"error: {location!r} holds no joblet cache (no {CACHE_FOLDER}/ folder); "
            "give the location passed to Memory(...)"
        )
    store = FileSystemStoreBackend()
    store.configure(location)
    return store


def _function_ids(store: FileSystemStoreBackend) -> list[str]:
    ids = set()
    for folder, _dirs, files in os.walk(store.location):
        if "func_code.json" in files:
            ids.add(os.path.relpath(folder, store.location).replace(os.sep, "/"))
    ids.update(item.func_id for item in store.get_items())
    return sorted(ids)


def _resolve(store: FileSystemStoreBackend, name: str) -> str:
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


def _cmd_list(store: FileSystemStoreBackend) -> int:
    by_function: dict[str, list[CacheItemInfo]] = {
        func_id: [] for func_id in _function_ids(store)
    }
    for item in store.get_items():
        by_function.setdefault(item.func_id, []).append(item)
    if not by_function:
        print("the cache is empty")
        return 0
    width = max(len(name) for name in by_function)
    print(f"{'function':<{width}}  {'entries':>7}  {'size':>9}  last access")
    total = 0
    for func_id, items in sorted(by_function.items()):
        size = sum(item.size for item in items)
        total += size
        last = _when(max(item.last_access for item in items)) if items else "-"
        print(f"{func_id:<{width}}  {len(items):>7}  {_size(size):>9}  {last}")
    count = sum(len(items) for items in by_function.values())
    print(f"{'total':<{width}}  {count:>7}  {_size(total):>9}")
    return 0


def _cmd_show(store: FileSystemStoreBackend, name: str) -> int:
    func_id = _resolve(store, name)
    items = sorted(
        store.get_items(func_id), key=lambda item: item.last_access, reverse=True
    )
    print(f"{func_id}: {len(items)} entries, {_size(sum(i.size for i in items))}")
    for item in items:
        try:
            metadata = store.get_metadata((item.func_id, item.args_id))
        except (KeyError, ValueError, OSError):
            metadata = {}
        computed = metadata.get("time")
        duration = metadata.get("duration")
        print(f"  {item.args_id}  {_size(item.size)}")
        if isinstance(computed, (int, float)):
            took = f" in {duration:.3g} s" if isinstance(duration, (int, float)) else ""
            print(f"    computed {_when(computed)}{took}")
        print(f"    last access {_when(item.last_access)}")
        for arg, text in (metadata.get("input_args") or {}).items():
            text = str(text).replace("\n", " ")
            print(f"    {arg} = {text[:100] + '...' if len(text) > 100 else text}")
    return 0


def _cmd_prune(store: FileSystemStoreBackend, args: argparse.Namespace) -> int:
    limits = (parse_bytes(args.bytes), args.items, parse_age(args.age))
    if limits == (None, None, None):
        raise SystemExit("error: give at least one of --bytes, --items, --age")
    items = store.get_items()
    evicted = select_evictions(items, time.time(), *limits)
    verb = "would remove" if args.dry_run else "removed"
    for item in evicted:
        if not args.dry_run:
            store.clear_item((item.func_id, item.args_id))
        print(
            f"{verb} {item.func_id}/{item.args_id} ({_size(item.size)}, "
            f"last access {_when(item.last_access)})"
        )
    kept = len(items) - len(evicted)
    kept_size = sum(i.size for i in items) - sum(i.size for i in evicted)
    print(f"{verb} {len(evicted)} entries; {kept} entries, {_size(kept_size)} left")
    return 0


def _cmd_clear(store: FileSystemStoreBackend, args: argparse.Namespace) -> int:
    if args.all:
        store.clear_path("")
        print(f"cleared {store.location}")
        return 0
    if not args.function:
        raise SystemExit("error: give a function (see `list`) or --all")
    func_id = _resolve(store, args.function)
    count = len(store.get_items(func_id))
    store.clear_path(func_id)
    print(f"cleared {func_id} ({count} entries)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m joblet_memory",
        description="Inspect and prune a joblet-memory cache.",
    )
    parser.add_argument("location", help="the location given to Memory(...)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="cached functions with entries, size, last access")
    show = commands.add_parser("show", help="one function's entries")
    show.add_argument("function")
    prune = commands.add_parser("prune", help="remove least recently used entries")
    prune.add_argument("--bytes", help="keep at most this size (500M, 2G)")
    prune.add_argument("--items", type=int, help="keep at most this many entries")
    prune.add_argument("--age", help="remove entries unused for longer (30m, 12h, 7d)")
    prune.add_argument(
        "--dry-run", action="store_true", help="only print what would go"
    )
    clear = commands.add_parser("clear", help="remove a function's entries")
    clear.add_argument("function", nargs="?")
    clear.add_argument("--all", action="store_true", help="remove everything")
    args = parser.parse_args(argv)
    try:
        store = _store(args.location)
        if args.command == "list":
            return _cmd_list(store)
        if args.command == "show":
            return _cmd_show(store, args.function)
        if args.command == "prune":
            return _cmd_prune(store, args)
        return _cmd_clear(store, args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
