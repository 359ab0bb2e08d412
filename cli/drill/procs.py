"""Killing and restarting the stack's processes, with every exit code kept and checked.

A process the drill kills must die of that signal (-9 for SIGKILL); one it stops at the end must
exit 0 on SIGTERM. Anything else (a crash, an abort at interpreter exit) is a finding, reported
with the process name and the log tail."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.service import RPCError

from cli.bench.stack import Stack, wait_port
from core import devserver


@dataclass
class Exit:
    name: str
    how: str  # "SIGKILL" (drill), "SIGTERM" (drill), "died" (by itself)
    code: int | None
    expected: int

    @property
    def ok(self) -> bool:
        return self.code == self.expected

    def as_dict(self) -> dict[str, Any]:
        return {"process": self.name, "how": self.how, "exit_code": self.code, "expected": self.expected}


class Processes:
    """What the drill does to the stack's children. Readiness after a restart: a worker when the
    server sees it poll, an API or the dev server when its port answers."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.exits: list[Exit] = []
        self.ports: dict[str, int] = {}  # API processes: their port
        self.env: dict[str, dict[str, str]] = {}  # per-process environment overrides

    async def _wait_dead(self, name: str, limit: float) -> int | None:
        p = self.stack.procs[name]
        deadline = time.monotonic() + limit
        while p.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110 (a child, not an event)
            await asyncio.sleep(0.05)
        return p.poll()

    async def kill(self, name: str, sig: signal.Signals = signal.SIGKILL, limit: float = 30.0) -> int | None:
        p = self.stack.procs[name]
        if p.poll() is not None:  # it died by itself before we came: that is a finding too
            self.exits.append(Exit(name, "died", p.returncode, -int(sig)))
            return p.returncode
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, sig)
        code = await self._wait_dead(name, limit)
        if code is None:  # did not stop on SIGTERM in time: kill it and record what it did
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            code = await self._wait_dead(name, 10)
        # Every uiflow process exits through core.process.run_and_exit: a clean stop on SIGTERM is 0.
        expected = -9 if sig == signal.SIGKILL else 0
        self.exits.append(Exit(name, sig.name, code, expected))
        return code

    async def start(self, name: str, attempts: int = 3) -> float:
        """Start ``name`` again with its first arguments; seconds until it is ready. A start that
        exits before it is ready is recorded (an unexpected exit: the drill fails on it) and tried
        again, so one bad start does not end the run before the checks."""
        t0 = time.perf_counter()
        for attempt in range(attempts):
            try:
                await self._start_once(name)
                return time.perf_counter() - t0
            except (RuntimeError, TimeoutError) as e:
                self.exits.append(
                    Exit(name, f"start failed: {str(e)[:2000]}", self.stack.procs[name].poll(), 0)
                )
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(1.0)
        raise AssertionError("unreachable")

    async def _start_once(self, name: str) -> None:
        old = self.stack.procs[name]
        if old.poll() is None:  # a start that hangs: stop it before the next try
            with contextlib.suppress(ProcessLookupError):
                os.killpg(old.pid, signal.SIGKILL)
            old.wait()
        args = [str(a) for a in old.args]  # type: ignore[union-attr]
        p = self.stack.spawn(name, args, self.env.get(name))
        if name.startswith("worker"):
            await self._polling(name, p.pid)
        elif name.startswith("api"):
            await wait_port("127.0.0.1", self.ports[name], 90, p)
        elif name == "temporal":
            host, port = self.stack.temporal_address.rsplit(":", 1)
            await wait_port(host, int(port), devserver.STARTUP_TIMEOUT_S, p)

    async def _polling(self, name: str, pid: int, limit: float = 90.0) -> None:
        """Ready when the server sees this very process poll (the SDK's default identity starts
        with the pid): the other worker's polls say nothing about this one."""
        client = self.stack.client
        assert client is not None
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.stack.procs[name].poll() is not None:
                code = self.stack.procs[name].returncode
                raise RuntimeError(f"{name} exited ({code}) while starting:\n{self.stack.log_tail(name, 15)}")
            with contextlib.suppress(RPCError):
                resp = await client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=self.stack.namespace,
                        task_queue=TaskQueue(name=self.stack.task_queue),
                        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                    )
                )
                if any(pp.identity.startswith(f"{pid}@") for pp in resp.pollers):
                    return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{name} (pid {pid}) never polled {self.stack.task_queue}")

    def record_died(self, name: str) -> None:
        self.exits.append(Exit(name, "died", self.stack.procs[name].returncode, 0))

    def died(self) -> list[str]:
        """Children that exited although nobody stopped them (checked while the drill runs)."""
        return [n for n, p in self.stack.procs.items() if p.poll() is not None]

    async def stop_all(self) -> None:
        """SIGTERM in reverse start order (APIs and workers drain first, the dev server last), each
        exit code recorded."""
        order = sorted(self.stack.procs, key=lambda n: ("api" not in n, "worker" not in n, n == "temporal"))
        for name in order:
            p = self.stack.procs[name]
            if p.poll() is not None:
                self.exits.append(Exit(name, "died", p.returncode, 0))
                continue
            await self.kill(name, signal.SIGTERM)
