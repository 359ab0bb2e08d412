"""Console page render times with a large region: a benchmark, not a test.

Sets up what the browser tests use (a fresh PostgreSQL database, the simulators, a
time-skipping Temporal server and a worker), bulk-inserts synthetic cases into one county with
``api.console.fixtures.insert_synthetic_cases``, takes in one real claim so the case page has a
workflow to query, serves the app on a port and times each page over real HTTP (server time
plus transfer: what the browser waits for before it can paint).

    .venv/bin/python -m tests.browser.bench_console            # 10,000 cases in 150102
    .venv/bin/python -m tests.browser.bench_console --cases 50000 --runs 50
    .venv/bin/python -m tests.browser.bench_console --screenshots test-artifacts

Needs PostgreSQL on 127.0.0.1:5432 (``make postgres``); ``--screenshots`` needs Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api.app import create_app
from api.console.fixtures import insert_synthetic_cases
from core.db import Database
from core.migrate import upgrade
from core.seed import DEMO_PASSWORD, seed_demo_staff, seed_regions
from core.settings import Settings
from sim.testing import running_sim, serve_app
from tests.conftest import FIXTURES, case_env
from tests.factories import sim_person
from tests.waiting import polls

PG_ADMIN_URL = os.environ.get("UIFLOW_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REGION = "150102"


@asynccontextmanager
async def scratch_database() -> AsyncIterator[Database]:
    name = f"uiflow_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    db = Database(f"{base}/{name}")
    try:
        await upgrade(db)
        async with db.session() as s:
            await seed_regions(s)
            await seed_demo_staff(s)
        yield db
    finally:
        await db.dispose()
        conn = await asyncpg.connect(PG_ADMIN_URL)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def signed_in(base: str, login: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30)
    page = await client.get("/console/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = await client.post(
        "/console/login", data={"login": login, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 303, r.text
    return client


async def time_page(client: httpx.AsyncClient, url: str, runs: int) -> dict[str, Any]:
    for _ in range(3):  # warm the connection pool, template cache and PostgreSQL's plan cache
        r = await client.get(url)
        assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:300]}"
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = await client.get(url)
        samples.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    samples.sort()
    return {
        "url": url,
        "median": statistics.median(samples),
        "p95": samples[max(0, int(len(samples) * 0.95) - 1)],
        "max": samples[-1],
        "kb": len(r.content) / 1024,
    }


async def claim_for(sim_url: str, sim_token: str, clerk: httpx.AsyncClient) -> str:
    person = await sim_person(sim_url, sim_token, scenario="voluntary_resignation", registered=True)
    form = await clerk.get("/console/intake")
    token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    data = {
        "csrf_token": token,
        "id_number": person["id_number"],
        "name": person["name"],
        "phone": person["phone"],
        "bank_account": person["account_no"],
        "bank_name": person["bank_name"],
        "region_code": REGION,
        "employer_credit_code": person["last_employer"],
        "separation_date": person["stop_date"],
    }
    r = await clerk.post("/console/intake", data=data)
    assert r.status_code == 303, r.text[:500]
    return str(r.headers["location"]).split("/cases/")[1].split("?")[0]


async def main(args: argparse.Namespace) -> None:
    key = base64.b64encode(b"b" * 32).decode()
    async with scratch_database() as db, running_sim(seed=42, population=200) as sim:
        tmp = Path(f"/tmp/uiflow-bench-{uuid.uuid4().hex[:6]}")
        settings = Settings(
            mode="test",
            data_dir=tmp,
            codec_keys=f"b1:{key}",
            codec_active_key="b1",
            jwt_secret="bench-secret-" + "x" * 32,
            applicant_key_secret="bench-applicant-" + "y" * 32,
            temporal_namespace="default",
            sim_base_url=sim.base_url,
            sim_token=sim.token,
            calendar_dir=FIXTURES / "calendar",
        )
        t0 = time.perf_counter()
        n = await insert_synthetic_cases(db, REGION, args.cases, seed=1)
        print(f"inserted {n} synthetic cases into {REGION} in {time.perf_counter() - t0:.1f}s")
        async with case_env(settings, db) as ce:
            app = create_app(ce.settings, db=db, temporal=ce.env.client)
            async with serve_app(app) as base:
                clerk = await signed_in(base, "clerk.xc")
                reviewer = await signed_in(base, "reviewer.xc")
                supervisor = await signed_in(base, "supervisor.hhht")
                case_id = await claim_for(sim.base_url, sim.token, clerk)
                for _ in polls():
                    page = await reviewer.get(f"/console/cases/{case_id}")
                    if 'id="case-status">待审核' in page.text:
                        break
                    await asyncio.sleep(0.05)
                pages = [
                    (reviewer, "/console/inbox"),
                    (reviewer, "/console/inbox?page=40"),
                    (reviewer, "/console/inbox?status=under_review&overdue=1&size=100"),
                    (reviewer, "/console/cases"),
                    (reviewer, "/console/cases?sort=received_at&page=150"),
                    (reviewer, f"/console/cases/{case_id}"),
                    (supervisor, "/console/supervisor"),
                    (supervisor, "/console/inbox"),
                    (clerk, "/console/intake"),
                ]
                results = [await time_page(c, url, args.runs) for c, url in pages]
                print(
                    f"\n{args.cases} synthetic cases in {REGION}; {args.runs} runs per page after 3 warm-ups"
                )
                print(f"{'page':62} {'median':>8} {'p95':>8} {'max':>8} {'size':>8}")
                for r in results:
                    print(
                        f"{r['url'][:62]:62} {r['median']:7.1f}ms {r['p95']:7.1f}ms {r['max']:7.1f}ms"
                        f" {r['kb']:6.1f}KB"
                    )
                if args.screenshots:
                    await screenshots(base, Path(args.screenshots), case_id)
                for c in (clerk, reviewer, supervisor):
                    await c.aclose()


async def screenshots(base: str, out: Path, case_id: str) -> None:
    from playwright.async_api import async_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before the browser starts)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for login, url, name in [
            ("reviewer.xc", "/console/inbox", "bench-inbox-10k.png"),
            ("supervisor.hhht", "/console/supervisor", "bench-supervisor-10k.png"),
            ("clerk.xc", "/console/intake", "bench-intake.png"),
            ("reviewer.xc", f"/console/cases/{case_id}", "bench-case.png"),
        ]:
            ctx = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
            page = await ctx.new_page()
            await page.goto(f"{base}/console/login")
            await page.fill('input[name="login"]', login)
            await page.fill('input[name="password"]', DEMO_PASSWORD)
            await page.click('button[type="submit"]')
            await page.wait_for_url(f"{base}/console/inbox")
            t0 = time.perf_counter()
            await page.goto(f"{base}{url}")
            nav = await page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.responseEnd - n.requestStart, n.domContentLoadedEventEnd - n.startTime]; }"
            )
            print(
                f"browser {url[:50]:50} response {nav[0]:6.1f}ms, DOMContentLoaded {nav[1]:6.1f}ms"
                f" (goto {1000 * (time.perf_counter() - t0):.0f}ms)"
            )
            await page.screenshot(path=str(out / name), full_page=True)
            await ctx.close()
        await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--screenshots", default="", help="folder for screenshots of the pages at this size")
    asyncio.run(main(parser.parse_args()))
