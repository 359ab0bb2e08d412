"""The drill's timeline: start the stack, drive the claims while the chaos runs, settle, check.

Chaos (times from the start of the claims; every action is complete, killed process started
again, before the next one begins or the chaos stops):
- a worker SIGKILLed every ``worker_kill_every_s`` (alternating between the two) and started again;
- one API process SIGKILLed at ``api_kill_at_s`` and started again ``api_down_s`` later;
- the Temporal dev server stopped (SIGTERM) at ``temporal_restart_at_s`` and started again;
- the bank failing ``bank_error_rate`` and timing out ``bank_timeout_rate`` of its calls throughout;
- the registration platform down (every call an error) from ``outage_at_s`` for ``outage_s``.
Each kill and the restart can be planned at a share of the claims decided instead (``*_at_share``).

Recovery after each kill is read from outside: the seconds until the killed process is ready
again, and until progress resumes, i.e. the case database changes again (a projection, an audit
entry or a payment: each the result of a completed activity or a decision)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from cli.bench.common import BIN, envelope
from cli.bench.stack import Stack, StackOptions, free_port, wait_port
from cli.drill.api import RoundRobinApi
from cli.drill.check import check_all, check_exits, db_fetch, dispose_engines, wait_paid, workflows_missing
from cli.drill.claims import EXPECTED_FINAL, ClaimRun, Driver, days_ago, person_request, plan_for
from cli.drill.procs import Processes
from core.seed import DEMO_PASSWORD
from models.case import local_date

WORKERS = ("worker", "worker-2")
APIS = ("api", "api-2")


@dataclass
class DrillOptions:
    claims: int = 1000
    concurrency: int = 48
    sqlite: bool = False
    worker_kill_every_s: float = 20.0
    worker_kills_max: int | None = None  # None: until the claims are done
    api_kill_at_s: float | None = 60.0
    api_down_s: float = 10.0
    temporal_restart_at_s: float | None = 120.0
    # Instead of a time, a share of the claims decided (0 to 1): the action then comes while the
    # rest are in flight, however quick the machine (the small drill in `make test`: at fixed
    # seconds, a restart planned after the last claim never came on a quiet machine).
    api_kill_at_share: float | None = None
    temporal_restart_at_share: float | None = None
    worker_kill_at_share: float | None = None  # one kill, instead of one every worker_kill_every_s
    outage_at_s: float | None = 30.0
    outage_s: float = 300.0
    bank_error_rate: float = 0.2
    bank_timeout_rate: float = 0.1
    bank_hang_s: float = 30.0
    settle_limit_s: float = 900.0
    sim_population: int = 300
    keep: bool = False


@dataclass
class Event:
    kind: str
    target: str
    at_s: float
    exit_code: int | None = None
    ready_after_s: float | None = None
    progress_after_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Progress:
    """The case database's moving parts (audit entries, the latest projection, paid orders):
    "progress resumed" is the first read after an event that differs from the read just before."""

    stack: Stack

    async def sample(self) -> tuple[Any, ...]:
        row = await db_fetch(
            self.stack.db_url,
            "select (select count(*) from audit_log), (select max(updated_at) from case_record),"
            " (select count(*) from payment_order where status = 'paid')",
        )
        return tuple(row[0])

    async def resumed_after(
        self, before: tuple[Any, ...], since: float, limit: float = 600.0
    ) -> float | None:
        """Seconds from ``since`` until the case database is seen to differ from ``before``
        (its own reads every 0.25 s, so the figure's resolution is about that)."""
        while time.perf_counter() - since < limit:
            with contextlib.suppress(Exception):  # the database is not what is being killed
                if await self.sample() != before:
                    return time.perf_counter() - since
            await asyncio.sleep(0.25)
        return None


class Drill:
    def __init__(self, stack: Stack, opts: DrillOptions, note: Any) -> None:
        self.stack = stack
        self.opts = opts
        self.note = note
        self.procs = Processes(stack)
        self.progress = Progress(stack)
        self.events: list[Event] = []
        self.t0 = 0.0
        self.unfinished_chaos: list[str] = []
        self.decided = 0  # claims whose driver is done (for the actions planned by share)
        self.pending: list[tuple[Event, asyncio.Task[float | None]]] = []

    def _now(self) -> float:
        return time.perf_counter() - self.t0

    async def _sim(self, method: str, path: str, json: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.stack.sim_url, timeout=60) as sim:
            r = await sim.request(
                method, path, json=json, headers={"Authorization": f"Bearer {self.stack.sim_token()}"}
            )
            r.raise_for_status()
            return r.json()

    async def add_second_pair(self) -> None:
        """The second worker (its own metrics port) and the second API process, same queue and
        database: what a second machine would run."""
        st = self.stack
        self.procs.ports["api"] = int(st.api_url.rsplit(":", 1)[1])
        self.procs.env["worker-2"] = {"UIFLOW_WORKER_METRICS_PORT": str(free_port())}
        st.spawn("worker-2", [str(BIN / "uiflow"), "worker"], self.procs.env["worker-2"])
        port = free_port()
        self.procs.ports["api-2"] = port
        p = st.spawn("api-2", [str(BIN / "uiflow"), "api", "--host", "127.0.0.1", "--port", str(port)])
        await asyncio.gather(wait_port("127.0.0.1", port, 90, p), st.await_pollers("worker-2", st.task_queue))

    async def _kill_and_restart(self, kind: str, name: str, down_s: float, sig: signal.Signals) -> None:
        before = await self.progress.sample()
        ev = Event(kind, name, self._now())
        self.events.append(ev)
        t = time.perf_counter()
        # Watched from the kill on, while the process is down and restarting: with two workers
        # the other one may carry on at once; with the dev server down nothing can.
        resumed = asyncio.create_task(self.progress.resumed_after(before, t))
        ev.exit_code = await self.procs.kill(name, sig)
        if down_s:
            await asyncio.sleep(down_s)
        await self.procs.start(name)
        ev.ready_after_s = time.perf_counter() - t  # from the kill: includes the planned downtime
        # Not awaited here: progress may wait for a later chaos action (the end of an outage).
        self.pending.append((ev, resumed))
        self.note(f"{kind} {name}: ready after {ev.ready_after_s:.1f}s")

    async def chaos(self, stop: asyncio.Event) -> None:
        o = self.opts
        # (trigger, value, action): "s" at a second of the run, "share" at a share of the claims decided.
        plan: list[tuple[str, float, str]] = []
        for what, at_s, share in (
            ("api", o.api_kill_at_s, o.api_kill_at_share),
            ("temporal", o.temporal_restart_at_s, o.temporal_restart_at_share),
            ("worker", None, o.worker_kill_at_share),
        ):
            if share is not None:
                plan.append(("share", share, what))
            elif at_s is not None:
                plan.append(("s", at_s, what))
        if o.outage_at_s is not None:
            plan.append(("s", o.outage_at_s, "outage"))
        plan.sort(key=lambda item: (item[0], item[1]))  # by time, then by share
        kills = 0
        next_kill = o.worker_kill_every_s if o.worker_kill_at_share is None else 0.0
        outage_end: float | None = None

        def due(trigger: str, value: float, now: float) -> bool:
            return now >= value if trigger == "s" else self.decided >= value * o.claims

        while not stop.is_set():
            now = self._now()
            if outage_end is not None and now >= outage_end:
                await self._sim("DELETE", "/admin/faults/registration")
                self.events.append(Event("outage_end", "registration", now))
                outage_end = None
            ready = [item for item in plan if due(item[0], item[1], now)]
            if ready:
                plan.remove(ready[0])
                what = ready[0][2]
                if what == "worker":
                    await self._kill_and_restart("sigkill", WORKERS[kills % 2], 0.0, signal.SIGKILL)
                    kills += 1
                elif what == "api":
                    await self._kill_and_restart("sigkill", APIS[1], o.api_down_s, signal.SIGKILL)
                elif what == "temporal":
                    await self._kill_and_restart("restart", "temporal", 0.0, signal.SIGTERM)
                else:
                    await self._sim("PUT", "/admin/faults/registration", {"error_rate": 1.0})
                    self.events.append(Event("outage_start", "registration", now))
                    outage_end = now + o.outage_s
                continue
            if next_kill and now >= next_kill and (o.worker_kills_max is None or kills < o.worker_kills_max):
                await self._kill_and_restart("sigkill", WORKERS[kills % 2], 0.0, signal.SIGKILL)
                kills += 1
                next_kill = self._now() + o.worker_kill_every_s
                continue
            for name in self.procs.died():  # a child that died by itself: a finding, restarted
                self.procs.record_died(name)
                self.events.append(Event("died", name, self._now()))
                await self.procs.start(name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
        if outage_end is not None:
            await self._sim("DELETE", "/admin/faults/registration")
            self.events.append(Event("outage_end", "registration", self._now()))
        self.unfinished_chaos = [what for _, _, what in plan]

    async def run(self) -> dict[str, Any]:
        o = self.opts
        st = self.stack
        assert st.settings is not None
        await self.add_second_pair()
        today = local_date(datetime.now(UTC))
        people = await asyncio.gather(
            *(
                self._sim("POST", "/admin/persons", person_request(days_ago(today, 45)))
                for _ in range(o.claims)
            )
        )
        api = RoundRobinApi([st.api_url, f"http://127.0.0.1:{self.procs.ports['api-2']}"])
        try:
            tokens = {}
            for role, login in (
                ("clerk", "clerk.xc"),
                ("reviewer", "reviewer.xc"),
                ("inspector", "inspector.nmg"),
            ):
                r = await api.request(
                    "POST", "/api/v1/auth/login", json={"login": login, "password": DEMO_PASSWORD}
                )
                assert r is not None and r.status_code == 200, r
                tokens[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
            driver = Driver(api, st.settings, tokens, st.sim_url)
            runs = [ClaimRun(i, plan_for(i), p) for i, p in enumerate(people)]
            await self._sim(
                "PUT",
                "/admin/faults/bank",
                {
                    "error_rate": o.bank_error_rate,
                    "timeout_rate": o.bank_timeout_rate,
                    "hang_seconds": o.bank_hang_s,
                },
            )
            stop_chaos = asyncio.Event()
            self.t0 = time.perf_counter()
            chaos = asyncio.create_task(self.chaos(stop_chaos))
            sem = asyncio.Semaphore(o.concurrency)
            done = 0

            async def one(c: ClaimRun) -> None:
                nonlocal done
                async with sem:
                    await driver.run(c)
                done += 1
                self.decided = done
                if done % max(1, o.claims // 10) == 0:
                    self.note(f"{done}/{o.claims} claims decided ({self._now():.0f}s)")

            drivers: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(one(c) for c in runs)))
            both: set[asyncio.Future[Any]] = {drivers, chaos}
            await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
            if chaos.done():  # the chaos never ends by itself: it failed (e.g. a restart failed)
                drivers.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drivers
                chaos.result()
            await drivers
            t_decided = self._now()
            stop_chaos.set()
            await chaos
            for ev, task in self.pending:
                ev.progress_after_s = await task
            await self._sim("DELETE", "/admin/faults")
            self.note("chaos over; waiting for the first payments")
            paid_wait = await wait_paid(st.db_url, runs, o.settle_limit_s)
            no_workflow = await workflows_missing(st, runs)
            t_settled = self._now()
            checks = await check_all(st, runs, no_workflow)
        finally:
            for _, task in self.pending:
                task.cancel()  # done ones ignore it; a run that failed leaves none behind
            await api.aclose()
        await self.procs.stop_all()
        checks["processes"] = check_exits(self.procs.exits)
        return {
            "timeline": {
                "claims_decided_s": round(t_decided, 1),
                "first_payments_settled_s": round(t_settled, 1),
                "payments_waited_s": paid_wait,
            },
            "events": [e.as_dict() for e in self.events],
            "chaos_not_reached": self.unfinished_chaos,
            "api_client": api.stats.as_dict(),
            "plans": {p: sum(1 for c in runs if c.plan == p) for p in EXPECTED_FINAL},
            "checks": checks,
        }


async def run_drill(opts: DrillOptions, note: Any = print) -> dict[str, Any]:
    out = envelope("drill", {k: v for k, v in opts.__dict__.items()})
    workdir: Path | None = None
    # Two workers and two APIs on one PostgreSQL server (beside whatever else uses it, a test
    # session for one): each process holds at most 12 connections (core/db.py ``pool_limits``).
    pool = {"UIFLOW_DB_POOL_SIZE": "4", "UIFLOW_DB_MAX_OVERFLOW": "8"}
    stack_opts = StackOptions(sim_population=opts.sim_population, keep=opts.keep, env=pool)
    stack = Stack(stack_opts)
    if opts.sqlite:
        workdir = stack.workdir
        stack_opts.database_url = f"sqlite+aiosqlite:///{workdir / 'drill.db'}"
    note(f"starting the stack in {stack.workdir}")
    try:
        async with stack:
            note("stack up: adding the second worker and API process")
            drill = Drill(stack, opts, note)
            out.update(await drill.run())
    finally:
        await dispose_engines()
    checks = out["checks"]
    out["ok"] = all(v["ok"] for v in checks.values())
    return out
