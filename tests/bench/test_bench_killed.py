"""A ``uiflow bench`` killed mid-run (SIGKILL: what a test's timeout or the OOM killer does) leaves
no process behind. Its children run in their own sessions, so nothing reached them before: the dev
server, the simulators, the worker and the API lived on after the smoke tests' timeouts killed the
bench. Now each child is told to stop when its parent dies (``core.process.stop_with_parent``).
The drill starts its children through the same ``Stack.spawn``."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from tests.processes import Proc, descendants, survivors

UIFLOW = str(Path(sys.executable).parent / "uiflow")
PG_ADMIN_URL = os.environ.get("UIFLOW_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")

pytestmark = [pytest.mark.postgres, pytest.mark.devserver]


def _stack_up(bench: subprocess.Popen[str], limit: float = 300.0) -> list[Proc]:
    """The bench's process tree once its worker runs (the last child the stack starts, after the
    dev server listens and the database is migrated)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert bench.poll() is None, bench.communicate()[0][-3000:]
        tree = descendants(bench.pid)
        if any(p.args.rstrip().endswith("uiflow worker") for p in tree):
            return tree
        time.sleep(0.2)
    raise AssertionError(f"the bench's stack did not come up in {limit:.0f} s")


async def _drop_leftovers(bench_pid: int, tree: list[Proc]) -> None:
    """What a killed bench cannot clean up itself: its database and its scratch directory."""
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        names = await conn.fetch(
            "select datname from pg_database where datname like $1", f"uiflow_bench_{bench_pid}_%"
        )
        for row in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()
    for p in tree:
        m = re.search(r"--db-filename (\S+)/temporal\.db", p.args)
        if m and Path(m.group(1)).name.startswith("uiflow-bench-"):
            shutil.rmtree(m.group(1), ignore_errors=True)


def test_a_killed_bench_leaves_no_child_running(tmp_path: Path) -> None:
    out = str(tmp_path / "o.json")
    bench = subprocess.Popen(
        [UIFLOW, "bench", "claims", "--n", "400", "--concurrency", "2", "--quiet", "--json", out],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    tree: list[Proc] = []
    try:
        tree = _stack_up(bench)
        os.kill(bench.pid, signal.SIGKILL)
        bench.communicate(timeout=30)
        assert bench.returncode == -signal.SIGKILL
        names = [p.args for p in tree]
        assert len(tree) >= 4, names  # the dev server, the simulators, the API and the worker at least
        # Told to stop (SIGTERM), the worker drains for its grace time (3 s in a bench) first.
        left = survivors(tree, limit=60)
        assert not left, [(p.pid, p.args) for p in left]
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        for p in survivors(tree, limit=0):  # a failed run must not leave them either
            os.kill(p.pid, signal.SIGKILL)
        asyncio.run(_drop_leftovers(bench.pid, tree))
