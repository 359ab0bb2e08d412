"""A 办不成事 complaint in the browser: the clerk takes it in at the 办不成事 window naming the
person's rejected claim (refused while what went wrong is missing); it is at the supervisor at
once, on the supervisor view's 办不成事 list; the claim page lists it and the request page names
the claim; the reviewer is offered the form but refused by the validator; the supervisor answers
and records the follow-up call. Every page in Chinese, no English status words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from sim.testing import SimHandle
from tests.browser.conftest import SignIn
from tests.factories import CaseEnv, rejected_claim, sim_person
from tests.waiting import polls

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

IDS = re.compile(r"(request|claim)-[0-9A-Za-z_-]+|[a-z]+\.[a-z]+")
ENGLISH_STATUS = re.compile(
    r"\b(open|answered|closed|assigned|supervisor|hotline|unresolved_window|counter)\b"
)


async def no_english_status(page: Page, selector: str) -> None:
    text = IDS.sub("", await page.locator(selector).inner_text())  # identifiers are not words
    found = ENGLISH_STATUS.search(text)
    assert found is None, (found.group(0), text[max(0, found.start() - 30) : found.end() + 200])


async def test_unresolved_window_complaint_linked_to_claim(
    sign_in: SignIn, console: str, sim: SimHandle, pg_case_env: CaseEnv, artifacts: Path
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    claim = await rejected_claim(pg_case_env, person)

    clerk = await sign_in("clerk.xc")
    await clerk.click('.mainnav a[href="/console/requests/new"]')
    await clerk.wait_for_url(f"{console}/console/requests/new")
    # The catalogue beside the form: the same question gets the same answer.
    await clerk.fill("#q", "退费")
    await clerk.press("#q", "Enter")
    await expect(clerk.locator("#answers")).to_contain_text("医保费退费怎么办理")
    await clerk.select_option("#f-kind", "complaint")
    await clerk.select_option("#f-channel", "unresolved_window")
    await clerk.select_option("#f-topic", "claim")
    await clerk.fill("#f-content", "申领被退回，称停保原因为个人辞职")
    await clerk.fill("#f-linked_case_id", claim.id)
    await clerk.click('#request-form button[type="submit"]')
    await expect(clerk.locator("#form-message")).to_contain_text("办不成事窗口受理时须写明")
    await clerk.fill("#f-problem", "单位已注销，无法开具解除劳动合同证明")
    await clerk.click('#request-form button[type="submit"]')
    await clerk.wait_for_url(
        re.compile(r"/console/requests/request-150102-unresolved_window-[0-9a-f]{12}\?done=intake$")
    )
    request_id = clerk.url.split("/requests/")[1].split("?")[0]
    for _ in polls():
        if await clerk.locator("#case-stage").inner_text() == "主管督办":
            break
        await clerk.wait_for_timeout(250)
        await clerk.reload()
    await expect(clerk.locator("#case-stage")).to_have_text("主管督办")
    await expect(clerk.locator("#linked-case")).to_have_text(claim.id)
    await no_english_status(clerk, "main")

    supervisor = await sign_in("supervisor.hhht")
    await supervisor.click('.mainnav a[href="/console/requests"]')
    await expect(supervisor.locator("#unresolved")).to_contain_text(request_id)
    await expect(supervisor.locator("#facets")).to_contain_text("办不成事窗口")
    await no_english_status(supervisor, "main")
    # The claim page lists the request naming it.
    await supervisor.goto(f"{console}/console/cases/{claim.id}")
    await expect(supervisor.locator("#case-requests")).to_contain_text(request_id)

    # The reviewer may open it, but a 办不成事 request is the supervisor's.
    reviewer = await sign_in("reviewer.xc")
    await reviewer.goto(f"{console}/console/requests/{request_id}")
    await reviewer.check('#decision-panel input[name="action"][value="answer"]')
    await reviewer.fill("#f-note", "请补充材料")
    await reviewer.click('#decision-panel button[type="submit"]')
    await expect(reviewer.locator("#decision-panel .alert-error")).to_contain_text("业务主管")

    await supervisor.goto(f"{console}/console/requests/{request_id}")
    await supervisor.check('#decision-panel input[name="action"][value="answer"]')
    await supervisor.fill("#f-note", "已协调以单位注销证明替代，当日受理申领")
    await supervisor.click('#decision-panel button[type="submit"]')
    await supervisor.wait_for_url(f"{console}/console/requests/{request_id}?done=answer")
    await expect(supervisor.locator("#answer")).to_contain_text("单位注销证明")
    await supervisor.check('#decision-panel input[name="action"][value="follow-up"]')
    await supervisor.select_option("#f-satisfaction", "satisfied")
    await supervisor.click('#decision-panel button[type="submit"]')
    await supervisor.wait_for_url(f"{console}/console/requests/{request_id}?done=follow-up")
    for _ in polls():
        if await supervisor.locator("#case-status").inner_text() == "已办结":
            break
        await supervisor.wait_for_timeout(250)
        await supervisor.reload()
    await expect(supervisor.locator("#case-status")).to_have_text("已办结")
    await expect(supervisor.locator("#request")).to_contain_text("满意")
    await no_english_status(supervisor, "main")
    await supervisor.screenshot(path=str(artifacts / "request-closed.png"), full_page=True)
