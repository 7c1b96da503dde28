"""What one run left behind in shared folders, and only what that run left.

``nox -s demo``, ``nox -s docs`` and each gallery example must leave nothing in
the temp dir or in ``/dev/shm``. On a shared machine other programs create and
remove files there at the same time (semaphores ``sem.*``, joblib's memmapping
folders, sockets), so "new since the start" is not "left by this run". A
:class:`Watch` counts an entry as this run's only on evidence:

* it is in a folder created for this run alone (``Place(..., ours=True)``);
* its name carries the process id of a process of this run: joblet's
  ``joblet_memmapping_<pid>_*`` and ``joblet_shared_<pid>_*``, joblib's
  ``joblib_memmapping_folder_<pid>_*``, loky's semaphores ``sem.loky-<pid>-*``;
* a process of this run had it open, memory-mapped or bound as a unix socket
  while the watch looked (every ``interval`` seconds).

The processes of this run are the root process (by default the one running the
watch) and its descendants, found in ``/proc``; processes that were seen and
then re-parented (a resource tracker outliving its parent) stay counted, and so
do descendants that were already running when the watch started (a worker pool
that the run reuses). When the watch stops it first waits, up to ``settle``
seconds, for the processes started during the run to exit, since some remove
their files as they exit. Every other new entry belongs to another program: it
is listed in the summary, not counted.

What this misses: an entry whose name carries no process id and that no process
of the run held open while the watch looked (a file created and closed between
two looks). A folder of the run's own (``ours=True``) has no such gap, which is
why the nox sessions point ``TMPDIR`` at one.

Linux only (``/proc``); elsewhere only the run's own folders count.
Standard library only: nox imports it in its own interpreter.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
#: Set by the nox sessions to the temp dir they made for the run alone: a check
#: inside the run (the gallery's, per example) may count all of it as the run's.
RUN_TMPDIR_ENV = "JOBLET_RUN_TMPDIR"

# Names that carry the id of the process that created them.
PID_IN_NAME = (
    re.compile(r"^joblet_(?:memmapping|shared)_(\d+)_"),
    re.compile(r"^joblib_memmapping_folder_(\d+)_"),
    re.compile(r"^sem\.loky-(\d+)-"),
)


@dataclass(frozen=True)
class Place:
    """A folder to watch; ``ours``: created for this run, all of it is the run's."""

    path: Path
    ours: bool = False


@dataclass
class Findings:
    """What a :class:`Watch` found, per watched folder."""

    places: list[Place]
    left: dict[Path, dict[str, str]]  # entry name -> why it is this run's
    others: dict[Path, list[str]]  # new entries with no sign of this run
    processes_seen: int
    still_running: list[str]
    proc_available: bool

    @property
    def ok(self) -> bool:
        return not any(self.left.values())

    def summary(self, shown: int = 5) -> str:
        """A few lines: what was watched, what this run left, what was ignored."""
        watched = ", ".join(
            f"{place.path} (this run's own)" if place.ours else str(place.path)
            for place in self.places
        )
        lines = [f"watched {watched}"]
        if self.proc_available:
            plural = "es" if self.processes_seen != 1 else ""
            lines.append(f"{self.processes_seen} process{plural} of this run seen")
        else:
            lines.append("no /proc: only this run's own folders were checked")
        if self.still_running:
            lines.append(
                "still running after the run: " + ", ".join(self.still_running)
            )
        left = [
            f"{place / name} ({why})"
            for place, names in self.left.items()
            for name, why in sorted(names.items())
        ]
        lines.append(
            "left behind by this run: " + ("; ".join(left) if left else "nothing")
        )
        for place, names in self.others.items():
            if names:
                more = f" and {len(names) - shown} more" if len(names) > shown else ""
                lines.append(
                    f"new in {place} but not this run's (other programs), ignored: "
                    f"{', '.join(names[:shown])}{more}"
                )
        return "\n".join(lines)


@dataclass
class _Seen:
    processes: dict[int, tuple[str, str]] = field(default_factory=dict)  # start, name
    paths: set[str] = field(default_factory=set)


def _listing(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def _stat_fields(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, start time, name) of ``pid``, or None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    name = text[text.find("(") + 1 : text.rfind(")")]
    fields = text[text.rfind(")") + 2 :].split()
    # fields[0] is the state, [1] the parent pid, [19] the start time.
    return int(fields[1]), fields[19], name


def _descendants(root: int) -> dict[int, tuple[str, str]]:
    """``root`` and every process below it: pid -> (start time, name)."""
    children: dict[int, list[int]] = {}
    info: dict[int, tuple[str, str]] = {}
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is None:
            continue
        parent, start, name = fields
        children.setdefault(parent, []).append(int(entry))
        info[int(entry)] = (start, name)
    found: dict[int, tuple[str, str]] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in info and pid not in found:
            found[pid] = info[pid]
            stack.extend(children.get(pid, ()))
    return found


def _alive(pid: int, start: str) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[1] == start


class Watch:
    """Watch ``places`` while a run goes on; :meth:`stop` says what it left.

    Parameters
    ----------
    places : iterable of Place
        The folders to check (the temp dir, ``/dev/shm``, ...).
    root_pid : int, optional
        The process whose descendants are the run (default: this process).
    removed_later : iterable of str
        Name prefixes of entries the caller knows are removed later (by the
        interpreter at exit): never counted.
    interval : float
        Seconds between two looks at the run's processes.
    """

    def __init__(
        self,
        places: Iterable[Place],
        root_pid: int | None = None,
        removed_later: Iterable[str] = (),
        interval: float = 0.5,
    ) -> None:
        self.places = [Place(Path(p.path), p.ours) for p in places]
        self.root_pid = os.getpid() if root_pid is None else root_pid
        self.removed_later = tuple(removed_later)
        self.interval = interval
        self.proc_available = (PROC / str(os.getpid()) / "stat").exists()
        self._before: dict[Path, set[str]] = {}
        self._seen = _Seen()
        self._started_before: set[int] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------

    def start(self) -> Watch:
        self._before = {place.path: _listing(place.path) for place in self.places}
        if self.proc_available:
            self._started_before = set(_descendants(self.root_pid)) - {self.root_pid}
            self.look()
            self._thread = threading.Thread(
                target=self._run, name="leftover-watch", daemon=True
            )
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.look()

    def look(self) -> None:
        """Record the run's processes and what they hold in the watched places."""
        if not self.proc_available:
            return
        prefixes = tuple(f"{place.path}{os.sep}" for place in self.places)
        processes = _descendants(self.root_pid)
        paths: set[str] = set()
        inodes: set[str] = set()
        for pid in processes:
            folder = PROC / str(pid)
            try:
                with open(folder / "maps") as maps:
                    for line in maps:
                        path = line.rstrip("\n").partition("/")[2]
                        if path and f"/{path}".startswith(prefixes):
                            paths.add(f"/{path}".removesuffix(" (deleted)"))
            except OSError:
                pass
            try:
                descriptors = os.listdir(folder / "fd")
            except OSError:
                continue
            for fd in descriptors:
                try:
                    target = os.readlink(folder / "fd" / fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
                elif target.startswith(prefixes):
                    paths.add(target.removesuffix(" (deleted)"))
        if inodes:
            paths |= _unix_socket_paths(inodes, prefixes)
        with self._lock:
            self._seen.processes.update(processes)
            self._seen.paths |= paths

    def stop(self, settle: float = 15.0) -> Findings:
        """Stop watching; wait for the run's processes; attribute new entries."""
        if self._thread is not None:
            self._stopping.set()
            self._thread.join()
            self._thread = None
        self.look()
        waiting = self._run_processes()
        deadline = time.monotonic() + settle
        while waiting and time.monotonic() < deadline:
            time.sleep(0.1)
            waiting = {pid: s for pid, s in waiting.items() if _alive(pid, s[0])}
        still_running = [f"pid {pid} ({name})" for pid, (_, name) in waiting.items()]
        left: dict[Path, dict[str, str]] = {}
        others: dict[Path, list[str]] = {}
        for place in self.places:
            new = _listing(place.path) - self._before.get(place.path, set())
            new = {name for name in new if not name.startswith(self.removed_later)}
            left[place.path], others[place.path] = {}, []
            for name in sorted(new):
                why = self._why_ours(place, name)
                if why:
                    left[place.path][name] = why
                else:
                    others[place.path].append(name)
        return Findings(
            places=self.places,
            left=left,
            others=others,
            processes_seen=len(self._seen.processes),
            still_running=still_running,
            proc_available=self.proc_available,
        )

    def _run_processes(self) -> dict[int, tuple[str, str]]:
        """Processes started by the run and still alive (not the root itself)."""
        return {
            pid: seen
            for pid, seen in self._seen.processes.items()
            if pid != self.root_pid
            and pid not in self._started_before
            and _alive(pid, seen[0])
        }

    def _why_ours(self, place: Place, name: str) -> str:
        if place.ours:
            return "in this run's own folder"
        for pattern in PID_IN_NAME:
            match = pattern.match(name)
            if match and int(match.group(1)) in self._seen.processes:
                return f"its name carries pid {match.group(1)}, a process of this run"
        entry = f"{place.path}{os.sep}{name}"
        for path in self._seen.paths:
            if path == entry or path.startswith(entry + os.sep):
                return "held open by a process of this run"
        return ""

    def __enter__(self) -> Watch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stopping.set()
            self._thread.join()
            self._thread = None


def _unix_socket_paths(inodes: set[str], prefixes: tuple[str, ...]) -> set[str]:
    """Paths of the bound unix sockets among ``inodes`` under ``prefixes``."""
    paths = set()
    try:
        with open(PROC / "net" / "unix") as table:
            next(table, None)  # the header
            for line in table:
                # Num RefCount Protocol Flags Type St Inode [Path]
                fields = line.split(maxsplit=7)
                if len(fields) == 8 and fields[6] in inodes:
                    path = fields[7].rstrip("\n")
                    if path.startswith(prefixes):
                        paths.add(path)
    except OSError:
        pass
    return paths
