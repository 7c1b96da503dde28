"""The missing ``if __name__ == "__main__":`` guard, found before any worker
starts.

Workers started by ``spawn`` or ``forkserver`` import the main script again
(as ``__mp_main__``). A ``Parallel`` call reached from the script's top level
without the guard then runs again in every worker, which fails and is
replaced, forever. The call is refused instead, naming the line to guard.
"""

from __future__ import annotations

import ast
import inspect
import sys
from types import FrameType


def _main_frame() -> FrameType | None:
    """The frame running the main script's top level, if it is on the stack."""
    main = sys.modules.get("__main__")
    here = inspect.currentframe()
    frame = here.f_back if here is not None else None
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is getattr(
            main, "__dict__", None
        ):
            return frame
        frame = frame.f_back
    return None


def _is_main_test(node: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(node, ast.Compare) and len(node.comparators) == 1):
        return False
    sides = [node.left, node.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    texts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return bool(names and texts)


def _guarded_lines(source: str) -> list[tuple[int, int]]:
    """The line ranges of the bodies of ``if __name__ == "__main__":`` blocks."""
    ranges = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and _is_main_test(node.test):
            first, last = node.body[0], node.body[-1]
            ranges.append((first.lineno, last.end_lineno or last.lineno))
    return ranges


def check_main_guard(start_method: str) -> None:
    """Raise ``RuntimeError`` when workers started by ``start_method`` would
    run this call again on importing the main script."""
    if start_method == "fork":
        return  # forked workers do not import the script
    frame = _main_frame()
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if frame is None or not path:
        return  # called from a function after the script's top level, or no file
    try:
        with open(path, encoding="utf-8") as file:
            ranges = _guarded_lines(file.read())
    except (OSError, SyntaxError, ValueError):
        return  # not a readable Python file: nothing to tell
    line = frame.f_lineno
    if any(first <= line <= last for first, last in ranges):
        return
    raise RuntimeError(
        f"backend='multiprocessing' starts its workers with {start_method!r}, "
        f"which imports the main script {path!r} again in each worker; line {line} "
        "runs this Parallel call at the script's top level, so every worker would "
        "run it again (and fail, forever). Put the script's work under "
        'if __name__ == "__main__":\n'
        "or use the default backend ('loky'), whose workers do not import the "
        "script."
    )
