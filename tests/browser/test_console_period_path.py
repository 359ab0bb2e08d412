"""A benefit period in the browser (issue 14 item 1): the counter clerk changes the account (an
account in another name refused by the bank's holder-name check, with the message on the page and
the values kept; the person's own account accepted), then a reviewer records a stop for
re-employment and the period closes."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from models.benefit import PeriodStatus
from models.rules import YearMonth
from sim.testing import SimHandle
from tests.browser.conftest import SignIn
from tests.clock import FUTURE_YEAR
from tests.factories import CaseEnv, sim_person
from tests.workflow.conftest import new_account_number, period_input, sleep_until, start_period, wait_period

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
TZ = ZoneInfo("Asia/Shanghai")
Y = FUTURE_YEAR


async def test_account_change_refused_then_accepted_and_a_stop(
    sign_in: SignIn, console: str, sim: SimHandle, pg_case_env: CaseEnv
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(pg_case_env.settings, person, first=YearMonth(Y, 1), months=12)
    h = await start_period(pg_case_env, inp)
    await sleep_until(pg_case_env, datetime(Y, 3, 20, 12, 0, tzinfo=TZ))
    await wait_period(h, PeriodStatus.ACTIVE)
    page_url = f"{console}/console/periods/{inp.case_id}"

    clerk = await sign_in("clerk.xc")
    await clerk.goto(page_url)
    await expect(clerk.locator("#case-status")).to_have_text("按月发放中")
    await expect(clerk.locator("#op-stop")).to_have_count(0)  # a clerk does not stop payment
    someone_else = sorted(n for n, who in sim.state.pop.accounts.items() if who != person["id_number"])[0]
    await clerk.click("#op-account summary")
    await clerk.fill('#form-account input[name="account_no"]', someone_else)
    await clerk.fill('#form-account textarea[name="reason"]', "本人申请变更收款账户")
    await clerk.click("#submit-account")
    await expect(clerk.locator("[data-refusal]")).to_contain_text("未通过银行户名核验")
    await expect(clerk.locator('#form-account textarea[name="reason"]')).to_have_value("本人申请变更收款账户")

    own = new_account_number()
    sim.state.pop.accounts[own] = person["id_number"]
    await clerk.fill('#form-account input[name="account_no"]', own)
    await clerk.click("#submit-account")
    await expect(clerk.locator('[role="status"]')).to_contain_text("已办理：变更收款账户")
    await expect(clerk.locator("#period-account")).to_have_text("****" + own[-4:])

    reviewer = await sign_in("reviewer.xc")
    await reviewer.goto(page_url)
    await reviewer.click("#op-stop summary")
    await reviewer.click("#submit-stop")  # nothing filled in: refused, nothing recorded
    await expect(reviewer.locator("[data-refusal]")).to_be_visible()
    await reviewer.select_option('#form-stop select[name="stop_reason"]', "reemployed")
    await reviewer.fill('#form-stop input[name="on"]', date(Y, 3, 15).isoformat())
    await reviewer.fill('#form-stop textarea[name="reason"]', "就业登记系统核实已重新就业")
    await reviewer.click("#submit-stop")
    await expect(reviewer.locator('[role="status"]')).to_contain_text("已办理：登记停发")
    result = await h.result()
    assert result.close_reason == "reemployed" and result.months_paid == 3
    await reviewer.reload()
    await expect(reviewer.locator("#case-status")).to_have_text("已办结")
    await expect(reviewer.locator("#events")).to_contain_text("重新就业")
    await expect(reviewer.locator("#operation-panel")).to_contain_text("暂无您可办理的事项")
