"""Processes by pid, for the tests that check a command leaves nothing behind.

Why by pid and start time rather than by name: a name matches another helper's dev server on a
shared machine, and a pid alone can be reused once its process is gone. ``/proc`` gives both, and
the parent of each process, so a whole tree can be recorded while it runs and checked after.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    start: int  # clock ticks after boot: with the pid, names this process and no later one
    args: str


def _read(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
    if fields[0] in ("Z", "X"):  # exited, not yet reaped: gone for our purpose
        return None
    return Proc(pid, int(fields[1]), int(fields[19]), cmdline.replace(b"\0", b" ").decode(errors="replace"))


def all_processes() -> list[Proc]:
    found = (_read(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit())
    return [p for p in found if p is not None]


def descendants(root: int) -> list[Proc]:
    """Every living process below ``root`` (children in their own sessions included)."""
    procs = all_processes()
    tree, frontier = [], {root}
    while frontier:
        layer = [p for p in procs if p.ppid in frontier]
        tree += layer
        frontier = {p.pid for p in layer}
    return tree


def running(proc: Proc) -> bool:
    now = _read(proc.pid)
    return now is not None and now.start == proc.start


def survivors(procs: list[Proc], limit: float) -> list[Proc]:
    """Those of ``procs`` still running once ``limit`` seconds have passed (returns as soon as none
    are): a child told to stop may take its grace time to drain."""
    deadline = time.monotonic() + limit
    while True:
        alive = [p for p in procs if running(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.2)
