"""The ``list`` scenario: the staff lists at a province's scale.

A million cases are generated inside PostgreSQL (``insert ... select generate_series``: no rows
travel over the wire, a million take seconds), with the shape of a few years of work: most cases
closed, a few percent open, some overdue, regions skewed towards the big cities. The queries are
the ones staff run every few minutes, sent through the real API (in this process, so the SQL it
issues can be captured and explained):

- a reviewer's inbox at a banner (旗);
- a league's (盟) overdue list, as its supervisor sees it;
- a league's status counts (the list's ``counts_by_status``) and its statistics page;
- the supervisor's inbox (escalated cases) and the province-wide first page.

Each query's SQL is run again under ``EXPLAIN (ANALYZE, BUFFERS)`` and the plan kept in the JSON,
with the indexes it used. ``--index-ddl`` measures candidate indexes before/after in one run
(on the bench database only: the project's migrations are not touched)."""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import event, text
from temporalio.client import Client

from api.app import create_app
from cli.bench.common import latency_summary
from cli.bench.stack import Stack
from cli.bench.ui import Reporter
from core.db import Database
from core.seed import DEMO_PASSWORD, upsert_staff
from models.enums import Role
from policy.regions import REGION_ROOT, descendants
from sim.testing import serve_app

BANNER = "152522"  # 阿巴嘎旗, 锡林郭勒盟
LEAGUE = "152500"  # 锡林郭勒盟
BENCH_STAFF = [
    ("bench.reviewer.banner", "基准审核（阿巴嘎旗）", [Role.REVIEWER], BANNER),
    ("bench.supervisor.league", "基准主管（锡林郭勒盟）", [Role.SUPERVISOR], LEAGUE),
    ("bench.admin", "基准管理员（自治区）", [Role.ADMIN], REGION_ROOT),
]

# (status, stage, share in per-mille) of the generated cases: a few years of work, mostly done.
STATUS_MIX = [
    ("approved", "approved", 560),
    ("closed", "closed", 250),
    ("rejected", "awaiting_reapplication", 50),
    ("under_review", "review", 70),
    ("checking", "checks", 10),
    ("awaiting_documents", "awaiting_documents", 30),
    ("awaiting_registration", "registration", 30),
]


def generate_sql(rows: int, counties: list[str]) -> str:
    """One INSERT ... SELECT over generate_series. Deterministic (``setseed``) so two runs see the
    same data; region skew ``power(random(), 1.6)`` puts more cases in the first (city) codes. Open
    cases are recent (received in the last three weeks, deadline about ten working days later, so
    about a third are overdue); closed ones spread over two years."""
    codes = "ARRAY[" + ",".join(f"'{c}'" for c in counties) + "]"
    cases, acc = [], 0
    for status, stage, share in STATUS_MIX:
        acc += share
        cases.append((acc / 1000.0, status, stage))
    status_expr = "CASE " + " ".join(f"WHEN b < {hi} THEN '{s}'" for hi, s, _ in cases) + " END"
    stage_expr = "CASE " + " ".join(f"WHEN b < {hi} THEN '{g}'" for hi, _, g in cases) + " END"
    open_cond = "b >= 0.86"  # under_review, checking, awaiting_* (see STATUS_MIX order)
    return f"""
    INSERT INTO case_record (case_id, case_type, status, stage, region_code, applicant_key, applicant_name,
        applicant_id_masked, employer_credit_code, channel, received_at, deadline, overdue, escalated,
        assigned_to, rounds, risk_flagged, blocked, summary, decided_at, closed_at, updated_at, version)
    SELECT
        'bench-' || g.i,
        CASE WHEN t < 0.85 THEN 'benefit_claim' WHEN t < 0.95 THEN 'benefit_period'
             ELSE 'stop_reason_dispute' END,
        {status_expr},
        {stage_expr},
        ({codes})[1 + floor(power(r, 1.6) * {len(counties)})::int],
        substr(md5(g.i::text), 1, 24),
        '基准' || (g.i % 1000),
        '150102********' || lpad((g.i % 10000)::text, 4, '0'),
        '91150100MA' || lpad((g.i % 50000)::text, 8, '0'),
        CASE WHEN g.i % 3 = 0 THEN 'counter' ELSE 'online' END,
        recv,
        CASE WHEN {open_cond} THEN dl END,
        ({open_cond}) AND dl < current_date,
        ({open_cond}) AND dl < current_date AND d < 0.5,
        CASE WHEN b >= 0.86 AND b < 0.93 AND d > 0.7 THEN 'reviewer.' || (g.i % 40) END,
        1,
        t > 0.97,
        ({open_cond}) AND t < 0.003,
        jsonb_build_object('status_label', {status_expr}),
        CASE WHEN b < 0.86 THEN recv + interval '6 days' * d END,
        CASE WHEN b < 0.81 THEN recv + interval '8 days' * d END,
        recv + interval '8 days' * d,
        1
    FROM (
        SELECT g1.*, (recv + interval '14 days' + interval '1 day' * floor(d * 3))::date AS dl
        FROM (
            SELECT g0.*,
                   -- open cases are recent (weeks), the rest spread over two years
                   now() - CASE WHEN g0.b >= 0.86 THEN interval '21 days' ELSE interval '730 days' END * g0.u
                       AS recv
            FROM (
                SELECT i, random() AS r, random() AS b, random() AS t, random() AS d, random() AS u
                FROM generate_series(1, {rows}) AS i
            ) AS g0
        ) AS g1
    ) AS g
    """


def count_backfill_sql() -> str:
    """Migration 0017's own statement that fills ``case_count`` from ``case_record``."""
    from core.migrate import ROOT

    path = ROOT / "migrations" / "versions" / "0017_case_counts_list_indexes.py"
    spec = importlib.util.spec_from_file_location("_m0017", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.backfill_sql("postgresql"))


async def populate(stack: Stack, rows: int, reporter: Reporter) -> dict[str, Any]:
    counties = sorted(r.code for r in descendants(REGION_ROOT) if r.level == "county")
    conn = await stack.pg_conn()
    try:
        existing = await conn.fetchval("select count(*) from case_record where case_id like 'bench-%'")
        if existing == rows:
            return {"rows": rows, "generated": False, "seconds": 0.0}
        await conn.execute("delete from case_record where case_id like 'bench-%'")
        with reporter.phase(f"list: generating {rows:,} cases in PostgreSQL", 3) as adv:
            t0 = time.perf_counter()
            # A bulk load without the count triggers (a million calls on a few hundred count
            # rows in one transaction), then the count table rebuilt as migration 0017 fills it.
            async with conn.transaction():
                await conn.execute("alter table case_record disable trigger user")
                await conn.execute("select setseed(0.42)")
                await conn.execute(generate_sql(rows, counties))
                await conn.execute("alter table case_record enable trigger user")
            adv()
            t1 = time.perf_counter()
            async with conn.transaction():
                await conn.execute("lock table case_record in share mode")
                await conn.execute("delete from case_count")
                await conn.execute(count_backfill_sql())
            adv()
            t_counts = time.perf_counter()
            await conn.execute("vacuum analyze case_record")
            await conn.execute("vacuum analyze case_count")
            adv()
            t2 = time.perf_counter()
        size = await conn.fetchval("select pg_size_pretty(pg_total_relation_size('case_record'))")
    finally:
        await conn.close()
    return {
        "rows": rows,
        "generated": True,
        "insert_s": round(t1 - t0, 2),
        "count_table_rebuild_s": round(t_counts - t1, 2),
        "vacuum_analyze_s": round(t2 - t_counts, 2),
        "rows_per_s": round(rows / (t1 - t0)),
        "table_size_with_indexes": size,
    }


QUERIES: list[tuple[str, str, str, dict[str, Any]]] = [
    # name, staff login, path, params
    # The floor: an authenticated request that reads one staff row (token check, JSON, the
    # in-process server): what every list pays before its own queries, on this machine now.
    ("api_floor_me", "bench.reviewer.banner", "/api/v1/auth/me", {}),
    ("reviewer_inbox_banner", "bench.reviewer.banner", "/api/v1/cases/inbox", {}),
    ("league_overdue_list", "bench.supervisor.league", "/api/v1/cases", {"overdue": "true"}),
    ("league_status_counts", "bench.supervisor.league", "/api/v1/cases", {"page_size": 1}),
    ("supervisor_inbox_league", "bench.supervisor.league", "/api/v1/cases/inbox", {}),
    ("league_stats_page", "bench.supervisor.league", "/api/v1/cases/stats", {}),
    ("province_first_page", "bench.admin", "/api/v1/cases", {}),
    # Keyset pages (issue 19): the next page by the first page's cursor, the console's default
    # order (newest first), and a filter the count table does not have (a capped count).
    ("province_next_page", "bench.admin", "/api/v1/cases", {"after": "@next:province_first_page"}),
    (
        "league_newest_first",
        "bench.supervisor.league",
        "/api/v1/cases",
        {"sort": "received_at", "order": "desc"},
    ),
    (
        "league_newest_next_page",
        "bench.supervisor.league",
        "/api/v1/cases",
        {"sort": "received_at", "order": "desc", "after": "@next:league_newest_first"},
    ),
    ("league_by_assignee", "bench.supervisor.league", "/api/v1/cases", {"assigned_to": "reviewer.7"}),
]


RESULT_KEYS = ("total", "counts_exact", "counts_by_status", "by_status", "overdue", "escalated")


@asynccontextmanager
async def in_process_api(db: Database, stack: Stack) -> AsyncIterator[str]:
    async def _no_temporal() -> Client:
        raise RuntimeError("the list scenario needs no Temporal")

    assert stack.settings is not None
    app = create_app(stack.settings, db=db, temporal_connect=_no_temporal)
    async with serve_app(app) as base:
        yield base


_INDEX_RE = re.compile(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)?(?: using| on) (\w+)")


def plan_digest(plan_text: str) -> dict[str, Any]:
    m = re.search(r"Execution Time: ([\d.]+) ms", plan_text)
    return {
        "indexes_used": sorted(set(_INDEX_RE.findall(plan_text))),
        "seq_scan_on_case_record": "Seq Scan on case_record" in plan_text,
        "execution_ms": float(m.group(1)) if m else None,
    }


async def explain_all(db: Database, captured: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    out = []
    async with db.engine.connect() as conn:
        for stmt, params in captured:
            if "case_record" not in stmt and "case_count" not in stmt:
                continue
            rows = (await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params)).all()
            plan = "\n".join(r[0] for r in rows)
            out.append({"sql": " ".join(stmt.split()), **plan_digest(plan), "plan": plan.splitlines()})
    return out


async def measure(
    db: Database, stack: Stack, iterations: int, reporter: Reporter, label: str
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with in_process_api(db, stack) as base, httpx.AsyncClient(base_url=base, timeout=300) as api:
        tokens = {}
        for login_name, *_ in BENCH_STAFF:
            r = await api.post("/api/v1/auth/login", json={"login": login_name, "password": DEMO_PASSWORD})
            r.raise_for_status()
            tokens[login_name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        with reporter.phase(
            f"list ({label}): {len(QUERIES)} queries × {iterations}", len(QUERIES) * iterations
        ) as adv:
            cursors: dict[str, str | None] = {}
            for name, who, path, params in QUERIES:
                params = {
                    k: cursors.get(v.split(":", 1)[1]) if isinstance(v, str) and v.startswith("@next:") else v
                    for k, v in params.items()
                }
                if path.endswith("/cases") or path.endswith("/stats"):
                    params.setdefault("region", LEAGUE if who != "bench.admin" else None)
                params = {k: v for k, v in params.items() if v is not None}
                captured: list[tuple[str, Any]] = []

                def _capture(
                    conn: Any,
                    cursor: Any,
                    statement: str,
                    parameters: Any,
                    context: Any,
                    many: bool,
                    sink: list[tuple[str, Any]] = captured,
                ) -> None:
                    sink.append((statement, parameters))

                event.listen(db.engine.sync_engine, "before_cursor_execute", _capture)
                try:
                    first = await api.get(path, params=params, headers=tokens[who])
                finally:
                    event.remove(db.engine.sync_engine, "before_cursor_execute", _capture)
                if first.status_code != 200:
                    raise RuntimeError(f"{name}: HTTP {first.status_code} {first.text[:200]}")
                body = first.json()
                cursors[name] = body.get("next_cursor")
                times: list[float] = []
                for _ in range(iterations):
                    t0 = time.perf_counter()
                    r = await api.get(path, params=params, headers=tokens[who])
                    times.append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        raise RuntimeError(f"{name}: HTTP {r.status_code}")
                    adv()
                results[name] = {
                    "who": who,
                    "path": path,
                    "params": params,
                    "latency": latency_summary(times),
                    "result": {k: body[k] for k in RESULT_KEYS if k in body},
                    "explain": await explain_all(db, captured),
                }
    return results


async def scenario_list(
    stack: Stack,
    out: dict[str, Any],
    *,
    rows: int,
    iterations: int,
    reporter: Reporter,
    index_ddl: list[str],
) -> None:
    db = Database(stack.db_url)
    try:
        async with db.session() as s:
            for login_name, name, roles, region in BENCH_STAFF:
                await upsert_staff(s, login_name, name, roles, region, DEMO_PASSWORD)
        out["data"] = await populate(stack, rows, reporter)
        out["before"] = await measure(db, stack, iterations, reporter, "as migrated")
        if index_ddl:
            applied = []
            async with db.engine.begin() as conn:
                for ddl in index_ddl:
                    t0 = time.perf_counter()
                    await conn.execute(text(ddl))
                    applied.append({"ddl": ddl, "seconds": round(time.perf_counter() - t0, 2)})
                await conn.execute(text("analyze case_record"))
            out["index_ddl"] = applied
            out["after"] = await measure(db, stack, iterations, reporter, "with --index-ddl")
    finally:
        await db.dispose()
    summary: dict[str, Any] = {}
    for name in out["before"]:
        b = out["before"][name]["latency"]
        row = {"p50_ms": b["p50_ms"], "p99_ms": b["p99_ms"]}
        if "after" in out:
            a = out["after"][name]["latency"]
            row |= {"after_p50_ms": a["p50_ms"], "after_p99_ms": a["p99_ms"]}
        row["indexes"] = sorted({i for e in out["before"][name]["explain"] for i in e["indexes_used"]})
        row["seq_scan"] = any(e["seq_scan_on_case_record"] for e in out["before"][name]["explain"])
        summary[name] = row
    out["summary"] = summary
