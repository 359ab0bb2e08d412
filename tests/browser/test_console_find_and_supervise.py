"""Issue 20 in a real browser: finding a person (by name, by ID tail with the birth date, by the
short case number) with masked results, every search audited and no ID number in a URL; the
clerk's inbox holding a rejected claim that waits for re-application; a blocked case page that does
not reload itself and records one view per visit; the supervisor's per-reviewer table and its
xlsx export read back; the 390 px layout checked by element positions."""

from __future__ import annotations

import asyncio
import io
from datetime import date
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from playwright.async_api import expect
from sqlalchemy import func
from sqlmodel import select

from core.db import Database
from core.person_search import SHORT_NO_RE, mask_name
from core.timeline import VIEW_ACTION
from models.tables import AuditLog, CaseRecord
from sim.testing import SimHandle
from tests.browser.conftest import SignIn
from tests.factories import CaseEnv, claim_input, rejected_claim, sim_person, start_claim
from tests.waiting import polls

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


async def audit_count(db: Database, actor: str, action: str, case_id: str | None = None) -> int:
    async with db.session() as s:
        q = (
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.actor == actor, AuditLog.action == action)
        )
        if case_id is not None:
            q = q.where(AuditLog.case_id == case_id)
        return int((await s.exec(q)).one())


async def record(db: Database, case_id: str) -> CaseRecord:
    async with db.session() as s:
        row = await s.get(CaseRecord, case_id)
        assert row is not None
        return row


async def test_find_a_person_by_name_id_tail_and_short_number(
    sign_in: SignIn, console: str, sim: SimHandle, pg_case_env: CaseEnv, pg_db: Database
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    h = await rejected_claim(pg_case_env, person)
    row = await record(pg_db, h.id)
    # Stored: masked name, keyed hashes, a short number; never the name or ID number in plain.
    assert row.applicant_name == mask_name(person["name"]) != person["name"]
    assert row.name_key and row.tail_key and row.short_no and SHORT_NO_RE.match(row.short_no)
    assert person["id_number"] not in (row.name_key + row.tail_key)

    clerk = await sign_in("clerk.xc")
    # The rejected claim waits for re-application in the clerk's inbox.
    await clerk.goto(f"{console}/console/inbox?type=benefit_claim&size=100")
    await expect(clerk.locator(f'tr:has(a[href="/console/cases/{h.id}"])')).to_have_count(1)

    before = await audit_count(pg_db, "clerk.xc", "person.searched")
    await clerk.goto(f"{console}/console/search")
    await clerk.fill("#search-q", person["name"])
    await clerk.click("form.search-form button[type=submit]")
    results = clerk.locator("#search-results")
    hit = results.locator(f'tr:has(a[href="/console/cases/{h.id}"])')
    await expect(hit).to_have_count(1)
    await expect(hit).to_contain_text(mask_name(person["name"]))
    await expect(hit).to_contain_text(person["id_number"][:6] + "********" + person["id_number"][-4:])
    assert person["name"] not in await results.inner_text()
    assert person["name"] not in clerk.url

    # The ID tail with the birth date (read from the number itself).
    idn = person["id_number"]
    await clerk.fill("#search-q", idn[-4:])
    await clerk.fill("#search-birth", date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14])).isoformat())
    await clerk.click("form.search-form button[type=submit]")
    await expect(clerk.locator(f'#search-results tr:has(a[href="/console/cases/{h.id}"])')).to_have_count(1)
    # The full ID number, typed into the header box (a POST: never in the URL).
    await clerk.fill("#jump-q", idn)
    await clerk.press("#jump-q", "Enter")
    await expect(clerk.locator(f'#search-results tr:has(a[href="/console/cases/{h.id}"])')).to_have_count(1)
    assert idn not in clerk.url and idn[-4:] not in clerk.url
    assert await audit_count(pg_db, "clerk.xc", "person.searched") == before + 3

    # The short number, read out over the phone, opens the case, which shows it.
    assert row.short_no is not None
    await clerk.fill("#jump-q", row.short_no)
    await clerk.press("#jump-q", "Enter")
    await clerk.wait_for_url(f"{console}/console/cases/{h.id}")
    await expect(clerk.locator("#case-short-no")).to_have_text(row.short_no)

    # Outside the region: nothing found, and still audited.
    other = await sign_in("clerk.dh")
    await other.goto(f"{console}/console/search")
    await other.fill("#search-q", person["name"])
    await other.click("form.search-form button[type=submit]")
    await expect(other.locator(f'a[href="/console/cases/{h.id}"]')).to_have_count(0)
    assert await audit_count(pg_db, "clerk.dh", "person.searched") >= 1


async def test_blocked_case_page_does_not_reload_and_records_one_view_per_visit(
    sign_in: SignIn, console: str, sim: SimHandle, pg_case_env: CaseEnv, pg_db: Database
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await c.put(
            "/admin/faults/contributions", json={"refuse_rate": 1.0, "refuse_code": "service.suspended"}
        )
        assert r.status_code == 200, r.text
    try:
        h = await start_claim(pg_case_env, claim_input(pg_case_env.settings, person))
        for _ in polls():
            if await _blocked(pg_db, h.id):
                break
            await asyncio.sleep(0.05)
        assert (await record(pg_db, h.id)).blocked
    finally:
        async with httpx.AsyncClient(base_url=sim.base_url) as c:
            await c.delete("/admin/faults")

    ops = await sign_in("ops.nmg")
    await ops.goto(f"{console}/console/cases/{h.id}")
    await expect(ops.locator(".flag-block")).to_have_count(1)
    assert await ops.locator("body").get_attribute("data-autorefresh") is None
    assert await audit_count(pg_db, "ops.nmg", VIEW_ACTION, h.id) == 1
    # A reload the page itself would make (auto=1) within the visit records no second view.
    await ops.goto(f"{console}/console/cases/{h.id}?auto=1")
    assert await audit_count(pg_db, "ops.nmg", VIEW_ACTION, h.id) == 1
    await h.terminate("test done")


async def _blocked(db: Database, case_id: str) -> bool:
    async with db.session() as s:
        row = await s.get(CaseRecord, case_id)
        return bool(row and row.blocked)


async def test_supervisor_reviewer_table_and_xlsx_export(
    sign_in: SignIn, console: str, sim: SimHandle, pg_case_env: CaseEnv, pg_db: Database, artifacts: Path
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    h = await rejected_claim(pg_case_env, person)
    assignee = (await record(pg_db, h.id)).assigned_to or "reviewer.xc"

    sup = await sign_in("supervisor.hhht")
    await sup.goto(f"{console}/console/supervisor")
    table = sup.locator("#reviewer-table")
    line = table.locator(f'tr[data-reviewer="{assignee}"]')
    await expect(line).to_have_count(1)
    await expect(line).not_to_contain_text(assignee)  # named, not by login
    decided = int(await line.locator('td[data-label="期间内办结"]').inner_text())
    assert decided >= 1
    await sup.screenshot(path=str(artifacts / "console-supervisor-reviewers.png"), full_page=True)

    before = await audit_count(pg_db, "supervisor.hhht", "list.exported")
    async with sup.expect_download() as info:
        await table.locator("a.export").click()
    download = await info.value
    data = await asyncio.to_thread(Path(await download.path()).read_bytes)
    ws = load_workbook(io.BytesIO(data)).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("承办人", "登录名", "在办")
    mine = [r for r in rows[1:] if r[1] == assignee]
    assert len(mine) == 1 and mine[0][4] == decided
    assert await audit_count(pg_db, "supervisor.hhht", "list.exported") == before + 1

    # Any list: the case list with its filters exports too.
    async with sup.expect_download() as info2:
        await sup.goto(f"{console}/console/cases?type=benefit_claim")
        await sup.locator("#case-table a.export").click()
    data2 = await asyncio.to_thread(Path(await (await info2.value).path()).read_bytes)
    ws2 = load_workbook(io.BytesIO(data2)).active
    assert ws2 is not None
    header = next(ws2.iter_rows(values_only=True))
    assert header[0] == "案件短号" and "申请人" in header


async def test_phone_width_wraps_the_navigation_and_shows_cards(
    sign_in: SignIn, console: str, sim: SimHandle, pg_case_env: CaseEnv, artifacts: Path
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    await rejected_claim(pg_case_env, person)
    clerk = await sign_in("clerk.xc")
    await clerk.set_viewport_size({"width": 390, "height": 844})
    await clerk.goto(f"{console}/console/cases")
    width = await clerk.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    for sel in (".topbar", ".mainnav", "#jump-q", ".whoami"):
        box = await clerk.locator(sel).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390.5, (sel, box)
    links = clerk.locator(".mainnav a")
    tops = {round((await links.nth(i).bounding_box() or {"y": 0})["y"]) for i in range(await links.count())}
    assert len(tops) > 1, "the navigation should wrap onto more than one line"
    # Lists are cards: the header row is hidden, each row is as wide as the screen and its cells
    # stack (the second cell below the first).
    assert not await clerk.locator("#case-table thead").is_visible() or (
        (await clerk.locator("#case-table thead").bounding_box() or {"height": 0})["height"] <= 1
    )
    first = clerk.locator("#case-table tbody tr").first
    row_box = await first.bounding_box()
    assert row_box is not None and row_box["width"] >= 300
    cells = first.locator("td")
    a, b = await cells.nth(0).bounding_box(), await cells.nth(1).bounding_box()
    assert a is not None and b is not None and b["y"] >= a["y"] + a["height"] - 1
    await clerk.screenshot(path=str(artifacts / "console-390.png"), full_page=True)


async def test_rejected_for_own_will_offers_a_prefilled_dispute(
    sign_in: SignIn, console: str, sim: SimHandle, pg_case_env: CaseEnv, pg_db: Database
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    h = await rejected_claim(pg_case_env, person)
    clerk = await sign_in("clerk.xc")
    await clerk.goto(f"{console}/console/cases/{h.id}")
    before = await audit_count(pg_db, "clerk.xc", "personal_data.viewed", h.id)
    await clerk.click("#start-dispute")
    await clerk.wait_for_url(f"{console}/console/intake/dispute?claim={h.id}")
    assert person["id_number"] not in clerk.url
    await expect(clerk.locator("#from-claim")).to_contain_text("个人原因主动辞职")
    await expect(clerk.locator("#f-name")).to_have_value(person["name"])
    await expect(clerk.locator("#f-id_number")).to_have_value(person["id_number"])
    await expect(clerk.locator("#f-employer_credit_code")).to_have_value(person["last_employer"])
    assert await audit_count(pg_db, "clerk.xc", "personal_data.viewed", h.id) == before + 1
    # Only reasons that are not the person's own will: no 死亡, 退休 or the reason on record.
    options = await clerk.locator("#f-requested_reason_code option").all_inner_texts()
    assert options and not any(x in "".join(options) for x in ("死亡", "退休", "个人原因主动辞职"))
