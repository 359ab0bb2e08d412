"""A stop-reason dispute in the browser: counter intake (refused while the required document is
missing, then accepted), the three review levels in three different people's inboxes, a
send-back refused without a note and then accepted, and the record changed at the end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from sim.testing import SimHandle
from tests.browser.conftest import SignIn
from tests.factories import sim_person
from tests.waiting import polls

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

PDF = b"%PDF-1.4\n% arbitration award\n"


async def decide(page: Page, action: str, note: str = "", reason: str = "") -> None:
    await page.check(f'#decide-form input[name="action"][value="{action}"]')
    if reason:
        await page.fill('#decide-form textarea[name="reason"]', reason)
    await page.fill('#decide-form textarea[name="note"]', note)
    await page.click("#submit-decision")


async def open_from_inbox(page: Page, console: str, case_id: str) -> None:
    await page.goto(f"{console}/console/inbox?type=stop_reason_dispute")
    link = f'a[href="/console/cases/{case_id}"]'
    for _ in polls():
        if await page.locator(link).count():
            break
        await page.wait_for_timeout(250)
        await page.reload()
    await page.click(link)
    await page.wait_for_url(f"{console}/console/cases/{case_id}")


async def test_dispute_counter_intake_and_three_levels_with_send_back(
    sign_in: SignIn, console: str, sim: SimHandle, artifacts: Path
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)

    clerk = await sign_in("clerk.xc")
    await clerk.click('.mainnav a[href="/console/intake/dispute"]')
    await clerk.wait_for_url(f"{console}/console/intake/dispute")
    await clerk.fill("#f-id_number", person["id_number"])
    await clerk.fill("#f-name", person["name"])
    await clerk.fill("#f-phone", person["phone"])
    await clerk.fill("#f-employer_credit_code", person["last_employer"])
    await clerk.select_option("#f-requested_reason_code", "employer_dismissal")
    await clerk.fill("#f-statement", "单位提出协商解除，原登记为个人辞职有误")
    await clerk.click("#submit-dispute")
    await expect(clerk.locator("#form-message")).to_contain_text("申请材料不齐全")
    await expect(clerk.locator('[data-field-error="documents.basis"]')).to_contain_text("至少一项")
    await expect(clerk.locator("#f-statement")).to_have_value("单位提出协商解除，原登记为个人辞职有误")
    await clerk.select_option("#dispute-docs-kind", "arbitration_award")
    await clerk.set_input_files(
        "#dispute-docs-file", files=[{"name": "仲裁裁决书.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    await expect(clerk.locator("#dispute-docs-list .doc-chip")).to_have_count(1)
    await clerk.click("#submit-dispute")
    await clerk.wait_for_url(re.compile(r"/console/cases/dispute-150102-[0-9a-f]{24}-\d+\?done=intake$"))
    case_id = clerk.url.split("/cases/")[1].split("?")[0]
    await expect(clerk.locator("#documents")).to_contain_text("仲裁裁决书.pdf")
    # The clerk who took it in has no review form (separation of duties).
    await expect(clerk.locator("#decide-form")).to_have_count(0)

    initial = await sign_in("reviewer.xc")
    await open_from_inbox(initial, console, case_id)
    await expect(initial.locator("#case-level")).to_have_text("初审")
    await expect(initial.locator("#request")).to_contain_text("用人单位解除劳动合同")
    # The first level cannot send back: the choice is not offered.
    await expect(initial.locator('#decide-form input[value="send-back"]')).to_have_count(0)
    await decide(initial, "approve", note="仲裁裁决书载明由单位提出解除")
    await initial.wait_for_url(f"{console}/console/cases/{case_id}?done=approve")
    await expect(initial.locator("#case-level")).to_have_text("复审")

    second = await sign_in("second.hhht")
    await open_from_inbox(second, console, case_id)
    await decide(second, "send-back")  # no note: the validator refuses
    await expect(second.locator("[data-refusal]")).to_have_text("退回时必须写明退回原因")
    await second.screenshot(path=str(artifacts / "console-dispute-second-review.png"), full_page=True)
    await decide(second, "send-back", note="请核对裁决书日期")
    await second.wait_for_url(f"{console}/console/cases/{case_id}?done=send-back")
    await expect(second.locator("#case-level")).to_have_text("初审")

    await initial.goto(f"{console}/console/cases/{case_id}")
    await decide(initial, "approve", note="已核对")
    await initial.wait_for_url(f"{console}/console/cases/{case_id}?done=approve")
    await second.goto(f"{console}/console/cases/{case_id}")
    await decide(second, "approve", note="同意")
    await second.wait_for_url(f"{console}/console/cases/{case_id}?done=approve")

    final = await sign_in("final.nmg")
    await open_from_inbox(final, console, case_id)
    await expect(final.locator("#case-level")).to_have_text("终审")
    await decide(final, "approve", note="同意变更")
    await final.wait_for_url(f"{console}/console/cases/{case_id}?done=approve")
    for _ in polls():
        if (await final.locator("#case-status").text_content()) == "已变更停保原因":
            break
        await final.wait_for_timeout(250)
        await final.reload()
    await expect(final.locator("#case-status")).to_have_text("已变更停保原因")
    rows = final.locator("#decisions tbody tr")
    await expect(rows).to_have_count(5)
    await expect(rows.nth(1)).to_contain_text("退回")
    await expect(final.locator("#request")).to_contain_text("已变更")
    await final.screenshot(path=str(artifacts / "console-dispute-changed.png"), full_page=True)
    assert sim.state.pop.persons[person["id_number"]].stop_reason_code == "employer_dismissal"
