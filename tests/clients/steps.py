"""The step log every client driver keeps (tests/clients.rs reads it).

Each library call is a named step; one that raises or returns nothing
(None or False) is a failure. The driver ends with one JSON line: how many
steps ran and which failed, or, when the driver itself broke, the same
with "aborted".
"""

import asyncio
import inspect
import json
import sys
import traceback

STEPS = []
FAILED = []


def _record_raise(name, e):
    FAILED.append({"step": name, "error": f"{type(e).__name__}: {e}",
                   "trace": traceback.format_exc(limit=4)})


def _record_result(name, result, none_fails=True):
    if none_fails and (result is None or result is False):
        FAILED.append({"step": name, "error": f"returned {result!r}"})
    return result


def step(name, call, none_fails=True):
    """Runs `call()` as the step `name`; returns its result, or None when it
    raised. With `none_fails=False` only raising fails (for libraries whose
    calls return None on success)."""
    STEPS.append(name)
    try:
        return _record_result(name, call(), none_fails)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        _record_raise(name, e)
        return None


async def step_async(name, call):
    """`step` for a library whose calls are coroutines."""
    STEPS.append(name)
    try:
        return _record_result(name, await call())
    except Exception as e:  # noqa: BLE001 - every failure is reported
        _record_raise(name, e)
        return None


def report(aborted=False):
    """The driver's last line."""
    out = {"steps": len(STEPS), "failed": FAILED}
    if aborted:
        out["aborted"] = True
    print(json.dumps(out))


def run(main):
    """Runs the driver's `main` (a function or a coroutine function), then
    reports; a driver that breaks is reported as aborted, exit status 1."""
    try:
        if inspect.iscoroutinefunction(main):
            asyncio.run(main())
        else:
            main()
        report()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        report(aborted=True)
        sys.exit(1)
