"""The premium refund at the counter in a real browser (Debian's Chromium), against the real app
on a port, PostgreSQL, a time-skipping Temporal server, a worker and the simulators (issue 15).

A clerk takes in a refund for the contribution year that ended: the person, the year, the months
and amounts on his receipts (one amount differs from the medical-insurance system's record), the
receipts uploaded (their hashes on the case); a missing receipt is refused first with the API's
words. The case page shows the month-by-month comparison with the differences; the reviewer
approves; the page shows the refund paid and the notices issued (受理回执, 返还决定书). Every page
on the way is Chinese only (the console scan's own check)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect
from sqlmodel import select

from api.app import create_app
from core.applicant import applicant_key
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from models.case import BUSINESS_TZ
from models.rules import YearMonth as YM
from models.tables import Document
from policy.refund import last_ended_year
from sim.testing import SimHandle, serve_app
from tests.browser.conftest import SignIn
from tests.browser.test_console_chinese_only import latin_words
from tests.browser.test_console_claim_path import reload_until
from tests.conftest import case_env
from tests.factories import CaseEnv, sim_person
from tests.refund_support import params_with_standard, seed_failed_months, self_paid

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

PDF = b"%PDF-1.4\n% premium receipt\n"


@pytest_asyncio.fixture
async def refund_case_env(wf_settings: Settings, pg_db: Database, tmp_path: Path) -> AsyncIterator[CaseEnv]:
    s = wf_settings.model_copy(
        update={
            "documents_dir": tmp_path / "documents",
            "params_dir": params_with_standard(tmp_path / "params"),
        }
    )
    async with case_env(s, pg_db) as ce:
        yield ce


@pytest_asyncio.fixture
async def console(refund_case_env: CaseEnv) -> AsyncIterator[str]:
    """The console of ``tests/browser/conftest.py`` with the medical standard entered."""
    ce = refund_case_env
    app = create_app(ce.settings, db=ce.db, temporal=ce.env.client)
    async with serve_app(app) as base:
        yield base


async def test_refund_counter_intake_comparison_and_approval_in_the_browser(
    sign_in: SignIn, console: str, refund_case_env: CaseEnv, sim: SimHandle, artifacts: Path
) -> None:
    ce = refund_case_env
    year = last_ended_year(datetime.now(BUSINESS_TZ).date(), parameters_in_force(ce.settings.params_dir))
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    months = [YM(year, 11), YM(year, 12)]
    await self_paid(sim, person["id_number"], months[0], "200.00")
    await self_paid(sim, person["id_number"], months[1], "400.00")
    await seed_failed_months(ce.db, applicant_key(ce.settings, person["id_number"]), months)

    # 1. The clerk at the counter: the form, Chinese only.
    clerk = await sign_in("clerk.xc")
    await clerk.click("a[href='/console/intake/premium-refund']")
    await clerk.wait_for_url(f"{console}/console/intake/premium-refund")
    assert await latin_words(clerk, context=True) == []
    await expect(clerk.locator("#f-year")).to_have_value(str(year))
    for name in ("id_number", "name", "phone", "bank_account", "bank_name"):
        await clerk.fill(f"#f-{name}", person[{"bank_account": "account_no"}.get(name, name)])
    await clerk.select_option("#f-basis", "year_end")
    await clerk.fill("#m-1", str(months[0]))
    await clerk.fill("#a-1", "200.00")
    await clerk.fill("#m-2", str(months[1]))
    await clerk.fill("#a-2", "420.00")  # the receipt says more than the medical record
    await clerk.click("#intake-refund-form button[type=submit]")
    # No receipt uploaded: refused with the API's words; what was typed stays.
    await expect(clerk.locator("#form-message")).to_have_text("窗口申请须上传医保缴费凭证")
    await expect(clerk.locator("#a-2")).to_have_value("420.00")
    for n in (11, 12):
        await clerk.set_input_files(
            "#receipt-file",
            files=[{"name": f"缴费凭证{n}月.pdf", "mimeType": "application/pdf", "buffer": PDF + bytes([n])}],
        )
        await expect(clerk.locator("#receipt-list .doc-chip")).to_have_count(n - 10)
    await clerk.click("#intake-refund-form button[type=submit]")
    await clerk.wait_for_url(re.compile(r"/console/cases/refund-150102-[^?]+$"))
    case_id = clerk.url.split("/cases/")[1]
    assert person["id_number"] not in clerk.url

    # The receipts are stored with their hashes, and the case carries the hashes.
    async with ce.db.session() as s:
        docs = (await s.exec(select(Document).where(Document.kind == "premium_receipt"))).all()
    hashes = {d.sha256 for d in docs if d.filename.startswith("缴费凭证")}
    assert len(hashes) >= 2

    # 2. The reviewer: the comparison with the medical-insurance record, differences shown.
    reviewer = await sign_in("reviewer.xc")
    await reviewer.goto(f"{console}/console/cases/{case_id}")
    await reload_until(reviewer, "#decide")
    checks = reviewer.locator("#checks")
    await expect(checks).to_contain_text("可返还合计 568.50 元")
    await expect(checks).to_contain_text("申报与医保记录不一致 1 处")
    for h in hashes:
        await expect(reviewer.locator(".case-meta")).to_contain_text(h[:16])
    assert await latin_words(reviewer, context=True) == []
    await reviewer.check('#decide input[name="action"][value="approve"]')
    await reviewer.click("#decide button[type=submit]")
    await reload_until(reviewer, "#checks .tag-ok")
    await expect(reviewer.locator("#case-status")).to_have_text("已返还")
    await expect(reviewer.locator("#checks")).to_contain_text("568.50元")
    await reload_until(reviewer, '#case-notices tr.notice-row[data-kind="refund_approved"]')
    await expect(reviewer.locator('#case-notices tr.notice-row[data-kind="refund_receipt"]')).to_have_count(1)
    assert await latin_words(reviewer, context=True) == []
    await reviewer.screenshot(path=str(artifacts / "console-refund-paid.png"), full_page=True)
