"""One bound for every wait in the suite.

A test polls until the system has done what it must (a workflow reached a stage, a row was
projected, a message arrived). The bound is only how long to wait before calling it a failure; it
is not a timing assertion (performance is measured in ``uiflow bench``). Fixed bounds of 3–30 s,
chosen on a quiet machine, made tests fail on a loaded one (two suites side by side, or a 2-core CI
host at load 14): the same steps, just later. So every wait uses ``WAIT_S``, generous by default
and set by ``UIFLOW_TEST_WAIT_S``; a test that really fails still fails, only later."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

WAIT_S = float(os.environ.get("UIFLOW_TEST_WAIT_S", "120"))


def polls(limit: float | None = None) -> Iterator[int]:
    """Yield until ``limit`` seconds (default ``WAIT_S``) have passed; the caller sleeps between
    tries and returns (or breaks) once it has what it waits for, then raises after the loop."""
    end = time.monotonic() + (WAIT_S if limit is None else limit)
    i = 0
    while True:
        yield i
        i += 1
        if time.monotonic() >= end:
            return
