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
  two more times (here, a crash that happens only on a task's first attempt is
  healed; one that happens every time is reported with its attempts);
* ``task_timeout`` stops the worker running a task that takes too long and
  replaces it;
* what the workers print and log shows up in the caller, here with the number
  of the worker in front of each line.
"""

import logging
import os
import tempfile
import time

from joblet import Parallel, delayed

###############################################################################
# The function evaluated for each parameter
# -----------------------------------------
# Most parameters give a score. A few are pathological: they divide by zero,
# crash the interpreter (as a segmentation fault in a compiled extension
# would), crash it only on their first attempt, or loop forever.


def evaluate(param, scratch):
    log = logging.getLogger("sweep")
    if param % 17 == 5:
        raise ZeroDivisionError(f"parameter {param} is degenerate")
    if param == 23:
        os._exit(1)  # crashes every time
    if param % 29 == 11:
        marker = os.path.join(scratch, f"crashed-{param}")
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # crashes on the first attempt only
    if param == 42:
        time.sleep(3600)  # never returns in time
    if param % 50 == 0:
        print(f"reached parameter {param}")
        log.warning("checkpoint at parameter %d", param)
    return param**0.5


###############################################################################
# Running the sweep
# -----------------


def main():
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    scratch = tempfile.mkdtemp()
    params = range(120)
    start = time.monotonic()
    results = Parallel(
        n_jobs=2,
        return_exceptions=True,
        retries=2,
        task_timeout=2.0,
        prefix_output=True,
    )(delayed(evaluate)(p, scratch) for p in params)
    elapsed = time.monotonic() - start

    ###########################################################################
    # What came back
    # --------------
    # Each failure is an exception object in the place of its task, of the type
    # that says what happened.

    failures = {}
    for param, result in zip(params, results, strict=True):
        if isinstance(result, BaseException):
            failures.setdefault(type(result).__name__, []).append(param)
    healthy = sum(not isinstance(r, BaseException) for r in results)
    print(f"{healthy} of {len(results)} tasks succeeded in {elapsed:.1f} s")
    for name, which in sorted(failures.items()):
        print(f"{name}: parameters {which}")

    ###########################################################################
    # The error of the task that crashed every time says how many attempts were
    # made and why each failed:

    print(results[23].__notes__[0])
    for name in os.listdir(scratch):
        os.remove(os.path.join(scratch, name))
    os.rmdir(scratch)


if __name__ == "__main__":
    main()
