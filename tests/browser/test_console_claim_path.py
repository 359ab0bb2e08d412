"""The staff console in a real browser (Debian's Chromium through Playwright), against the real
app on a port, PostgreSQL, a time-skipping Temporal server, a worker and the simulators.

The path of issue #8: a clerk takes in a counter claim (field errors first, a document
uploaded); a reviewer finds it in the inbox, sees the masked applicant and opens the audited
full view, is refused by the workflow's validator, and rejects with a catalogue reason and its
prefilled remedy; the clerk re-applies on the person's behalf; the reviewer approves; a
reviewer of another region neither sees nor opens it. Screenshots of the inbox and the case page
go to ``test-artifacts/``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlmodel import select

from core.db import Database
from core.person_search import mask_name
from models.claim import REJECT_REASONS, RejectReason
from models.tables import AuditLog
from sim.testing import SimHandle
from tests.browser.conftest import SignIn
from tests.factories import sim_person

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

PDF = b"%PDF-1.4\n% termination certificate\n"


async def fill_claim(page: Page, person: dict[str, Any], **over: str) -> None:
    values = {
        "id_number": person["id_number"],
        "name": person["name"],
        "phone": person["phone"],
        "employer_credit_code": person["last_employer"],
        "separation_date": person["stop_date"],
        "bank_account": person["account_no"],
        "bank_name": person["bank_name"],
    } | over
    for name, value in values.items():
        await page.fill(f"#f-{name}", value)


async def reload_until(page: Page, locator: str, tries: int = 60) -> None:
    """Reload until ``locator`` is on the page (the workflow moves on in its own time)."""
    for _ in range(tries):
        if await page.locator(locator).count():
            return
        await page.wait_for_timeout(250)
        await page.reload()
    raise AssertionError(f"{locator} never appeared on {page.url}")


async def test_claim_intake_review_reject_reapply_approve_in_the_browser(
    sign_in: SignIn, console: str, sim: SimHandle, pg_db: Database, artifacts: Path
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)

    # 1. The clerk takes in the claim at the counter.
    clerk = await sign_in("clerk.xc")
    await expect(clerk.locator(".whoami")).to_contain_text("窗口受理员")
    await expect(clerk.locator(".whoami")).to_contain_text("呼和浩特市 新城区")
    await clerk.keyboard.press("3")  # shortcut to the intake page
    await clerk.wait_for_url(f"{console}/console/intake")
    await fill_claim(clerk, person, phone="12345", employer_credit_code="91150100012345678A")
    await clerk.select_option("#intake-docs-kind", "termination_certificate")
    await clerk.set_input_files(
        "#intake-docs-file",
        files=[{"name": "解除劳动合同证明.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    await expect(clerk.locator("#intake-docs-list .doc-chip")).to_have_count(1)
    await clerk.click("#submit-intake")
    # Refused field by field with the API's own words; the input and the upload survive.
    await expect(clerk.locator('[data-field-error="phone"]')).to_have_text("手机号码应为11位数字，以1开头")
    await expect(clerk.locator('[data-field-error="employer_credit_code"]')).to_contain_text("校验")
    await expect(clerk.locator("#f-name")).to_have_value(person["name"])
    await expect(clerk.locator("#intake-docs-list .doc-chip")).to_have_count(1)
    await clerk.fill("#f-phone", person["phone"])
    await clerk.fill("#f-employer_credit_code", person["last_employer"])
    await clerk.click("#submit-intake")
    await clerk.wait_for_url(re.compile(r"/console/cases/claim-150102-[0-9a-f]{24}-\d+\?done=intake$"))
    case_id = clerk.url.split("/cases/")[1].split("?")[0]
    assert person["id_number"] not in clerk.url
    await expect(clerk.locator("#flash .alert-ok")).to_contain_text("申请已受理")
    await expect(clerk.locator("#documents")).to_contain_text("解除劳动合同证明.pdf")

    # 2. The reviewer finds it in the inbox, sorted by deadline, and rejects it with a reason.
    reviewer = await sign_in("reviewer.xc")
    await reviewer.goto(f"{console}/console/inbox?type=benefit_claim")
    row = f'tr:has(a[href="/console/cases/{case_id}"])'
    await reload_until(reviewer, row)
    await expect(reviewer.locator(row).locator(".due")).to_have_text(re.compile(r"剩\d+个工作日|今日到期"))
    # The read model keeps the name masked (the full name stays in the sealed workflow state).
    await expect(reviewer.locator(row)).to_contain_text(mask_name(person["name"]))
    await expect(reviewer.locator(row)).to_contain_text("********")
    await reviewer.screenshot(path=str(artifacts / "console-inbox.png"), full_page=True)
    # Keyboard: "/" jumps to the case-number box.
    await reviewer.keyboard.press("/")
    await reviewer.keyboard.type(case_id)
    await reviewer.keyboard.press("Enter")
    await reviewer.wait_for_url(f"{console}/console/cases/{case_id}")
    await expect(reviewer.locator("#case-status")).to_have_text("待审核")
    await expect(reviewer.locator("#report .verdict")).to_contain_text("不符合申领条件")

    # Masked by default; the full view is a deliberate, audited act.
    id_cell = reviewer.locator('#applicant [data-field="id_number"]')
    await expect(id_cell).to_have_text(person["id_number"][:6] + "********" + person["id_number"][-4:])
    await reviewer.click("#show-full")
    await expect(id_cell).to_have_text(person["id_number"])
    await expect(reviewer.locator("#applicant .audit-note")).to_contain_text("审计")

    # Approving an ineligible claim without a verification note: the workflow validator refuses,
    # and its words are shown.
    await reviewer.check('input[name="decision"][value="approve"]')
    await reviewer.click("#submit-decision")
    await expect(reviewer.locator("[data-refusal]")).to_have_text(
        "自动核验显示不符合申领条件，如仍要通过须填写核实说明"
    )

    # Reject: the checks' suggested reason is preselected and its remedy prefilled; switching the
    # reason switches the untouched remedy.
    await reviewer.check('input[name="decision"][value="reject"]')
    await expect(reviewer.locator("#reason_code")).to_have_value("voluntary_separation")
    await expect(reviewer.locator("#remedy")).to_have_value(
        REJECT_REASONS[RejectReason.VOLUNTARY_SEPARATION][1]
    )
    await reviewer.select_option("#reason_code", "documents_invalid")
    await expect(reviewer.locator("#remedy")).to_have_value(REJECT_REASONS[RejectReason.DOCUMENTS_INVALID][1])
    await reviewer.select_option("#reason_code", "voluntary_separation")
    await expect(reviewer.locator("#remedy")).to_have_value(
        REJECT_REASONS[RejectReason.VOLUNTARY_SEPARATION][1]
    )
    await reviewer.screenshot(path=str(artifacts / "console-case-review.png"), full_page=True)
    await reviewer.click("#submit-decision")
    await reviewer.wait_for_url(f"{console}/console/cases/{case_id}?done=reject")
    await expect(reviewer.locator("#case-status")).to_have_text("未通过（可重新申请）")
    await expect(reviewer.locator("#rounds")).to_contain_text("停保原因为个人原因")
    await expect(reviewer.locator("#timeline")).to_contain_text("审核不通过")

    # 3. The stop reason is corrected at the source; the clerk re-applies on the person's behalf.
    sim.state.pop.persons[person["id_number"]].stop_reason_code = "contract_expired"
    await clerk.goto(f"{console}/console/cases/{case_id}")
    await clerk.fill("#applicant-action textarea[name=note]", "原单位已更正停保原因")
    await clerk.click("#submit-applicant-action")
    await clerk.wait_for_url(f"{console}/console/cases/{case_id}?done=reapply")
    await expect(clerk.locator("#case-status")).to_have_text(
        "待审核", timeout=30_000
    )  # page refreshes itself

    await reviewer.goto(f"{console}/console/cases/{case_id}")
    await expect(reviewer.locator("#report .verdict")).to_contain_text("符合申领条件")
    await expect(reviewer.locator("#rounds tbody tr")).to_have_count(2)
    await reviewer.check('input[name="decision"][value="approve"]')
    await reviewer.fill('#decide-form textarea[name="note"]', "停保原因已更正，符合条件")
    await reviewer.click("#submit-decision")
    await reviewer.wait_for_url(f"{console}/console/cases/{case_id}?done=approve")
    await expect(reviewer.locator("#case-status")).to_have_text("已核准")
    await expect(reviewer.locator("#report")).to_contain_text("核定待遇")
    await reviewer.screenshot(path=str(artifacts / "console-case-approved.png"), full_page=True)

    # The clerk signs out.
    await clerk.click(".whoami button")
    await clerk.wait_for_url(re.compile(r"/console/login\?bye=1$"))
    await expect(clerk.locator(".alert-info")).to_have_text("已安全退出")
    await clerk.goto(f"{console}/console/inbox")
    await clerk.wait_for_url(re.compile(r"/console/login\?next=/console/inbox$"))

    # 4. A reviewer of another region neither sees it nor opens it.
    other = await sign_in("reviewer.dh")
    await expect(other.locator(".whoami")).to_contain_text("包头市 东河区")
    await other.goto(f"{console}/console/cases?type=benefit_claim")
    await expect(other.locator(f'a[href="/console/cases/{case_id}"]')).to_have_count(0)
    response = await other.goto(f"{console}/console/cases/{case_id}")
    assert response is not None and response.status == 404  # outside the scope it does not exist
    await expect(other.locator(".error-page .alert-error")).to_have_text("未找到该案件")

    async with pg_db.session() as s:
        entries = (await s.exec(select(AuditLog).where(AuditLog.case_id == case_id))).all()
    actions = {(e.actor, e.action) for e in entries}
    assert {
        ("clerk.xc", "claim.submitted"),
        ("reviewer.xc", "personal_data.viewed"),
        ("reviewer.xc", "claim.reject"),
        ("reviewer.xc", "claim.approve"),
    } <= actions
