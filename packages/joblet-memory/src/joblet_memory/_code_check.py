"""The first call of a cached function in a process: its code against the store.

:class:`CodeCheck` runs once per ``(store, function, code)`` and process, in
steps named for what they do: note the function among the live ones (to spot
two functions sharing a name), read the stored record, warn about a name
collision, remove the entries other code computed, and store the new record
(the old one goes to the record's history, for ``explain``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from . import _verbose
from ._code import CodeRecord, is_lambda, still_in_file
from ._function_log import FunctionLog
from ._memos import live_functions
from ._warnings import JobletCollisionWarning, warn

# The user's call -> MemorizedFunc -> _ensure_checked -> CodeCheck.run -> here.


def _both_defined(old: CodeRecord, new: CodeRecord) -> bool:
    """Whether two live code records are two functions, not one edited function."""
    if (old.file, old.first_line) == (new.file, new.first_line):
        return False  # same place: the source was edited and reloaded
    if old.file is None or not os.path.exists(old.file):
        return True  # exec'd or typed code: two definitions at two places
    return still_in_file(old)


@dataclass
class CodeCheck:
    """Compare ``record`` (the function's code now) with what ``store`` holds."""

    func: Any
    func_id: str
    record: CodeRecord
    store: Any
    verbose: int

    def run(self) -> None:
        collision = self.another_live_function_shares_the_name()
        log = FunctionLog.read(self.store, self.func_id)
        old = log.record
        if old is not None and old.digest == self.record.digest:
            return
        removed: list[str] = []
        if old is not None:
            collision = self.warn_about_collision(old, collision)
            if not collision:
                removed = self.remove_entries_of_other_code()
        log.replace_record(self.record, removed)
        log.write(
            self.store, self.func_id
        )  # read-only: the next process compares again

    def another_live_function_shares_the_name(self) -> bool:
        others = live_functions.register(self.func_id, self.func, self.record)
        return any(_both_defined(other, self.record) for other in others)

    def warn_about_collision(self, old: CodeRecord, collision: bool) -> bool:
        """Warn if ``old`` belongs to another function; True if it does."""
        record = self.record
        where = f"{record.file}:{record.first_line}" if record.file else "?"
        if is_lambda(record):
            warn(
                JobletCollisionWarning(
                    f"Cannot detect name collisions for function '{record.name}' ({where})"
                )
            )
            return True
        if collision or (old.first_line != record.first_line and still_in_file(old)):
            warn(
                JobletCollisionWarning(
                    f"Possible name collisions between functions '{old.name}' "
                    f"({old.file}:{old.first_line}) and '{record.name}' ({where}); "
                    "their results are kept apart, but rename one so that each "
                    "keeps its cache across sessions"
                )
            )
            return True
        return False

    def remove_entries_of_other_code(self) -> list[str]:
        """Remove the entries computed by other code; return their ids."""
        if self.verbose >= _verbose.PATH_VERBOSITY:
            print(
                f"[Memory] Function {self.record.name} (identified by {self.func_id}) "
                "has changed; removing its old results"
            )
        try:
            items = self.store.get_items(self.func_id)
        except OSError:
            return []
        removed = []
        for item in items:
            call_id = (item.func_id, item.args_id)
            try:
                code = self.store.get_metadata(call_id).get("code")
            except (KeyError, ValueError, OSError):
                continue
            if code != self.record.digest:
                try:
                    self.store.clear_item(call_id)
                except OSError:
                    break
                removed.append(item.args_id)
        return removed
