"""The ``console`` scenario: how long the staff console's pages take to render with 10,000 cases
in one region.

The cases are written with the console's own bulk loader (``api.console.fixtures.
insert_synthetic_cases``: read-model rows only, no workflows), into a fresh bench database. The
pages are fetched through the real app over HTTP with the staff member's session cookie, as a
browser would (the HTML is rendered server-side, so the time is the page's whole cost on our
side). Case detail pages are not timed: they query each case's workflow, and synthetic rows have
none."""

from __future__ import annotations

import time
from typing import Any

import httpx

from cli.bench.common import latency_summary
from cli.bench.listing import in_process_api
from cli.bench.stack import Stack
from cli.bench.ui import Reporter
from core.db import Database
from core.seed import DEMO_PASSWORD

REGION = "150102"  # 新城区: reviewer.xc, clerk.xc; supervisor.hhht sees it from the city
PAGES: list[tuple[str, str, str, dict[str, Any]]] = [
    # name, login, path, params
    ("reviewer_inbox", "reviewer.xc", "/console/inbox", {}),
    ("reviewer_case_list", "reviewer.xc", "/console/cases", {}),
    ("reviewer_case_list_page_20", "reviewer.xc", "/console/cases", {"page": 20}),
    ("clerk_inbox", "clerk.xc", "/console/inbox", {}),
    ("supervisor_overview", "supervisor.hhht", "/console/supervisor", {}),
]


async def scenario_console(
    stack: Stack, out: dict[str, Any], *, n: int, iterations: int, reporter: Reporter
) -> None:
    from api.console.fixtures import insert_synthetic_cases

    db = Database(stack.db_url)
    try:
        t0 = time.perf_counter()
        written = await insert_synthetic_cases(db, REGION, n)
        out["data"] = {"region": REGION, "cases": written, "insert_s": round(time.perf_counter() - t0, 2)}
        conn = await stack.pg_conn()
        try:
            await conn.execute("analyze case_record")
        finally:
            await conn.close()
        results: dict[str, Any] = {}
        async with in_process_api(db, stack) as base, httpx.AsyncClient(base_url=base, timeout=120) as http:
            cookies: dict[str, str] = {}
            for login in sorted({p[1] for p in PAGES}):
                r = await http.post("/api/v1/auth/login", json={"login": login, "password": DEMO_PASSWORD})
                r.raise_for_status()
                cookies[login] = r.json()["access_token"]
            with reporter.phase(
                f"console: {len(PAGES)} pages × {iterations}", len(PAGES) * iterations
            ) as adv:
                for name, login, path, params in PAGES:
                    headers = {"Cookie": f"uiflow_session={cookies[login]}"}
                    first = await http.get(path, params=params, headers=headers)
                    if first.status_code != 200:
                        raise RuntimeError(f"{name}: HTTP {first.status_code} {first.text[:200]}")
                    times = []
                    for _ in range(iterations):
                        t = time.perf_counter()
                        r = await http.get(path, params=params, headers=headers)
                        times.append(time.perf_counter() - t)
                        if r.status_code != 200:
                            raise RuntimeError(f"{name}: HTTP {r.status_code}")
                        adv()
                    results[name] = {
                        "login": login,
                        "path": path,
                        "params": params,
                        "html_bytes": len(first.content),
                        "latency": latency_summary(times),
                    }
    finally:
        await db.dispose()
    out["pages"] = results
    out["summary"] = {
        name: {"p50_ms": v["latency"]["p50_ms"], "p99_ms": v["latency"]["p99_ms"], "kib": len_kib(v)}
        for name, v in results.items()
    }


def len_kib(v: dict[str, Any]) -> float:
    return round(v["html_bytes"] / 1024, 1)
