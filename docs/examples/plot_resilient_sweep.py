"""
A long sweep that survives crashing, failing and hanging tasks
==============================================================

A parameter sweep of a few hundred evaluations should not lose an hour of work
because one parameter set crashes its worker, raises, or never returns. This
example runs such a sweep with ``joblet.Parallel`` and keeps every healthy
result:

* ``return_exceptions=True`` puts each task's exception in its place in the
  output instead of failing the whole call;
* ``retries=2`` sends a task whose worker process died to a fresh worker, up to
  two more times (a crash that happens only on a task's first attempt is
  healed; one that happens every time is reported with its attempts);
* ``task_timeout`` stops the worker running a task that takes too long, and
  replaces it;
* what the workers print and log shows up here, in the caller, with the
  number of the worker in front of each printed line.
"""

import logging
import os
import shutil
import sys
import tempfile
import time

from joblet import Parallel, delayed

###############################################################################
# The function evaluated for each parameter
# -----------------------------------------
# Most parameters give a score. A few are pathological: they divide by zero,
# crash the interpreter (as a segmentation fault in a compiled extension
# would), crash it only on their first attempt, or never return.


def evaluate(param, scratch):
    if param % 17 == 5:
        raise ZeroDivisionError(f"parameter {param} is degenerate")
    if param == 23:
        os._exit(1)  # crashes every time
    if param % 29 == 11:
        marker = os.path.join(scratch, f"crashed-{param}")
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # crashes on its first attempt only
    if param == 42:
        time.sleep(3600)  # never returns in time
    if param % 50 == 0:
        print(f"reached parameter {param}")
        logging.getLogger("sweep").warning("checkpoint at parameter %d", param)
    return param**0.5


###############################################################################
# Running the sweep
# -----------------
# The workers' log records are handled by this process's ``sweep`` logger; here
# it prints them.

handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("log %(name)s: %(message)s"))
sweep_log = logging.getLogger("sweep")
sweep_log.addHandler(handler)
sweep_log.propagate = False  # shown once, by this handler only
scratch = tempfile.mkdtemp()
params = list(range(120))
start = time.monotonic()
results = Parallel(
    n_jobs=2,
    return_exceptions=True,
    retries=2,
    task_timeout=2.0,
    prefix_output=True,
)(delayed(evaluate)(p, scratch) for p in params)
elapsed = time.monotonic() - start
sweep_log.removeHandler(handler)
sweep_log.propagate = True
shutil.rmtree(scratch)

###############################################################################
# What came back
# --------------
# Each failure is an exception object in the place of its task, of the type
# that says what happened.

outcomes = {"ok": []}
for param, result in zip(params, results, strict=True):
    name = type(result).__name__ if isinstance(result, BaseException) else "ok"
    outcomes.setdefault(name, []).append(param)
print(f"{len(outcomes['ok'])} of {len(results)} tasks succeeded in {elapsed:.1f} s")
for name, which in sorted(outcomes.items()):
    if name != "ok":
        print(f"{name}: parameters {which}")

###############################################################################
# The error of the task that crashed every time says how many attempts were
# made and why each failed; the tasks that crashed once gave their result.

print(results[23].__notes__[0].split(": 2)")[0], "...")
print("parameter 11 (crashed once):", results[11])

###############################################################################
# The outcomes at a glance:

try:
    import matplotlib.pyplot as plt
except ImportError:  # matplotlib is optional here
    plt = None
if plt is not None:
    names = sorted(outcomes, key=lambda name: -len(outcomes[name]))
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(names, [len(outcomes[name]) for name in names])
    ax.set_xscale("log")
    ax.set_xlabel("tasks")
    ax.set_title("120 tasks: every healthy result kept")
    fig.tight_layout()
