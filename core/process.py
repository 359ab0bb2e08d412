"""How every uiflow process ends: flush, then ``os._exit`` with the right code.

Why not a normal interpreter exit: the Temporal SDK's Rust runtime keeps threads (Tokio workers,
the gRPC bridge, the Prometheus exporter) that outlive the event loop. When CPython finalises
while one of them still calls back into Python, the process aborts with ``Fatal Python error:
PyGILState_Release: thread state … must be current when releasing`` (temporalio/sdk-python#300)
and exits with SIGABRT instead of the code the command meant, after it had already finished its
work cleanly. Leaving with ``os._exit`` once everything is closed skips that teardown; what the
teardown would still have done for us (flushing the log handlers and the standard streams) is
done here first. Every entry point goes through :func:`run_and_exit`, so there is one place that
decides how a process ends.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import shutil
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

#: The exit code of a process stopped by Ctrl-C (128 + SIGINT), as a shell reports it.
INTERRUPTED = 130


def exit_code_of(exc: BaseException | None) -> int:
    """The code a process should end with after ``exc`` (``None``: it returned normally)."""
    if exc is None:
        return 0
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)  # sys.exit("message") prints the message and exits 1
        return 1
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    traceback.print_exception(exc)
    return 1


def flush_all() -> None:
    """What interpreter shutdown would have flushed: the log handlers, then stdout and stderr."""
    try:
        logging.shutdown()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):  # closed or broken pipe: nothing left to save
                pass


def exit_now(code: int) -> NoReturn:
    flush_all()
    os._exit(code)


def _stop_requested(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def run_and_exit(entry: Callable[[], object]) -> NoReturn:
    """Run a process's whole body, then leave with its exit code and without interpreter
    finalisation. ``entry`` must have closed what it opened (workers drained, clients closed).

    SIGTERM is how a deploy or the dev supervisor asks a process to stop, so it ends with 0. A
    command with its own handler (the worker drains first) replaces this one; uvicorn, after its
    graceful shutdown, re-raises the SIGTERM it caught to the handler it found, which is this one:
    without it the API and the simulators would die by the signal (-15) after a clean stop."""
    signal.signal(signal.SIGTERM, _stop_requested)
    try:
        entry()
    except BaseException as exc:  # every way out gets its code, then os._exit
        exit_now(exit_code_of(exc))
    exit_now(0)


# --- children that do not outlive their parent -------------------------------------------------

_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (Linux), resolved in the parent: a child between fork and exec must not
    load libraries."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def stop_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies (``PR_SET_PDEATHSIG``).

    Why: ``uiflow bench``, ``uiflow drill`` and ``uiflow dev`` start the dev server, workers, APIs
    and simulators each in its own session (so a Ctrl-C in the terminal reaches the supervisor
    only, which stops them in order). Killed itself (a test's timeout, an OOM kill, SIGKILL), the
    supervisor runs no cleanup, and the children lived on holding ports and CPU. The setting
    survives ``exec`` and is about the thread that started the child: children are started from
    the supervisor's main thread. ``parent``: the pid that must still be the parent once armed
    (it may have died just before); ``None``: whoever it is now, unless that is already init.
    A no-op where ``prctl`` does not exist."""
    prctl = _prctl()
    if prctl is None:
        return
    prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    ppid = os.getppid()
    if (parent is not None and ppid != parent) or ppid == 1:  # died before we armed: act now
        os.kill(os.getpid(), sig)


def with_parent(args: Sequence[str], sig: str = "TERM") -> list[str]:
    """``args`` started so that the child stops with this process (above): through util-linux's
    ``setpriv --pdeathsig``, which arms the signal and then execs ``args`` (same pid).

    Why not a ``preexec_fn`` calling ``stop_with_parent``: Python code between fork and exec in a
    process with threads (the asyncio child watcher's, the default executor's) can deadlock on a
    lock another thread held at the fork; a floor worker hung that way before exec, and the bench
    smoke suite waited out its limit. Without ``setpriv``, ``args`` unchanged."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", sig, "--", *args] if setpriv else list(args)
