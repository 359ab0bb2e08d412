"""The benefit period's staff operations over HTTP (issue 14 item 1), on PostgreSQL with a
time-skipping Temporal server, a worker with the real activities and the simulators: stop,
suspend and resume, change of account (the bank's holder-name check), the continuation and
transitional applications, and the transfer to another district; with the refusals every one
shares (wrong role 403, another region 404, no reason 422, a finished period 409)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import col, select

from models.benefit import PeriodStatus, period_id_for
from models.rules import YearMonth
from models.tables import CaseRecord, Document, Payee, PaymentSchedule
from sim.testing import SimHandle
from tests.clock import FUTURE_YEAR
from tests.conftest import login
from tests.factories import CaseEnv, audit_actions, sim_person
from tests.workflow.conftest import (
    new_account_number,
    period_input,
    period_state,
    sim_messages,
    sleep_until,
    start_period,
    wait_period,
)

TZ = ZoneInfo("Asia/Shanghai")
Y = FUTURE_YEAR


async def upload(api: httpx.AsyncClient, kind: str) -> dict[str, Any]:
    """Evidence as the counter takes it in: uploaded first, referenced by id and hash."""
    data = b"%PDF-1.4 " + kind.encode() + uuid.uuid4().bytes
    r = await api.post(
        "/api/v1/documents",
        data={"kind": kind},
        files={"file": (f"{kind}.pdf", data, "application/pdf")},
        headers=await login(api, "clerk.xc"),
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return {k: out[k] for k in ("id", "kind", "sha256", "filename")}


async def running_period(ce: CaseEnv, sim: SimHandle, months: int = 12) -> tuple[Any, Any, dict[str, Any]]:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(ce.settings, person, first=YearMonth(Y, 1), months=months)
    h = await start_period(ce, inp)
    await sleep_until(ce, datetime(Y, 3, 20, 12, 0, tzinfo=TZ))
    await wait_period(h, PeriodStatus.ACTIVE)
    return inp, h, person


async def op(api: httpx.AsyncClient, url: str, name: str, body: Any, who: dict[str, str]) -> httpx.Response:
    return await api.post(f"{url}/{name}", json=body, headers=who)


def refused(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code, body
    message: str = body["message"]
    assert not any(c.isascii() and c.isalpha() for c in message), message  # Chinese for staff
    return message


async def test_stop_refusals_idempotency_audit_notice_and_finished_period(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    api, ce = case_api, pg_case_env
    inp, h, _ = await running_period(ce, sim)
    url = f"/api/v1/periods/{inp.case_id}"
    proof = await upload(api, "reemployment_proof")
    body = {
        "stop_reason": "reemployed",
        "on": date(Y, 3, 15).isoformat(),
        "reason": "就业登记系统核实已在新单位就业",
        "evidence": [proof],
    }
    reviewer = await login(api, "reviewer.xc")

    refused(await op(api, url, "stop", body, await login(api, "clerk.xc")), 403, "auth.role")
    refused(
        await api.post(f"{url}/stop", json=body, headers=await login(api, "reviewer.dh")),
        404,
        "case.not_found",
    )
    refused(
        await api.post(f"{url}/stop", json=body | {"reason": " "}, headers=reviewer),
        422,
        "period.reason_required",
    )
    tampered = [proof | {"sha256": "0" * 64}]
    refused(
        await api.post(f"{url}/stop", json=body | {"evidence": tampered}, headers=reviewer),
        422,
        "period.invalid",
    )
    future = body | {"on": date(Y, 4, 1).isoformat()}
    refused(await op(api, url, "stop", future, reviewer), 422, "period.invalid")
    assert not (await period_state(h)).stops

    key = {"Idempotency-Key": "stop-" + uuid.uuid4().hex}
    first = await api.post(f"{url}/stop", json=body, headers=reviewer | key)
    assert first.status_code == 200, first.text
    assert f"{Y}年04月起停止发放" in first.json()["message_zh"]
    again = await api.post(f"{url}/stop", json=body, headers=reviewer | key)
    assert again.status_code == 200 and again.json() == first.json()  # one stop, not two

    result = await h.result()
    assert result.close_reason == "reemployed" and result.months_paid == 3
    s = await period_state(h)
    assert len(s.stops) == 1 and s.stops[0].by_staff and s.stops[0].note == body["reason"]
    assert ("period.stop", "reviewer.xc") in await audit_actions(ce.db, inp.case_id)
    async with ce.db.session() as session:
        doc = await session.get(Document, proof["id"])
    assert doc is not None and doc.case_id == inp.case_id  # the evidence belongs to the period
    msgs = await sim_messages(sim, inp.case_id, wait_for="period_stopped")
    assert any("重新就业" in m["text_zh"] for m in msgs if m["template"] == "period_stopped")

    # The period is finished: every operation answers 409.
    refused(await op(api, url, "suspend", {"reason": "核查"}, reviewer), 409, "case.decided")
    r = await api.get(url, headers=reviewer)
    assert r.status_code == 200 and r.json()["status"] == "closed"


async def test_suspend_resume_account_check_continuation_and_transfer(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    api, ce = case_api, pg_case_env
    inp, h, person = await running_period(ce, sim)
    url = f"/api/v1/periods/{inp.case_id}"
    reviewer, clerk = await login(api, "reviewer.xc"), await login(api, "clerk.xc")
    inspector = await login(api, "inspector.nmg")

    # Suspend and resume: reviewers, risk inspectors and supervisors; a reason each time.
    refused(await op(api, url, "suspend", {"reason": "核查"}, clerk), 403, "auth.role")
    r = await api.post(f"{url}/suspend", json={"reason": "举报线索核查"}, headers=inspector)
    assert r.status_code == 200, r.text
    await wait_period(h, PeriodStatus.SUSPENDED)
    refused(await op(api, url, "resume", {}, reviewer), 422, "period.reason_required")
    r = await api.post(f"{url}/resume", json={"reason": "核查无问题"}, headers=reviewer)
    assert r.status_code == 200, r.text
    await wait_period(h, PeriodStatus.ACTIVE)
    refused(await op(api, url, "resume", {"reason": "再次恢复"}, reviewer), 409, "period.stage")

    # A change of account: the bank's holder-name check refuses an account in another name.
    others = sorted(n for n, who in sim.state.pop.accounts.items() if who != person["id_number"])
    card = await upload(api, "bank_card")
    change = {
        "account_no": others[0],
        "bank_name": "中国银行",
        "reason": "本人申请变更收款账户",
        "evidence": [card],
    }
    message = refused(await op(api, url, "account", change, clerk), 422, "period.invalid")
    assert "户名" in message and "本人名下" in message
    assert (await period_state(h)).account_version == 1
    new_no = new_account_number()
    sim.state.pop.accounts[new_no] = person["id_number"]
    refused(
        await api.post(f"{url}/account", json=change | {"account_no": new_no}, headers=inspector),
        403,
        "auth.role",
    )
    r = await api.post(f"{url}/account", json=change | {"account_no": new_no}, headers=clerk)
    assert r.status_code == 200, r.text
    s = await period_state(h)
    assert s.account_version == 2 and s.account_masked.endswith(new_no[-4:])
    assert new_no not in str(s.model_dump())
    msgs = await sim_messages(sim, inp.case_id, wait_for="account_changed")
    assert any(m["template"] == "account_changed" for m in msgs)

    # The counter's applications: 续发 recorded; the transitional one does not apply (409).
    r = await api.post(
        f"{url}/continuation", json={"reason": "本人申请续发，声明仍处于失业状态"}, headers=clerk
    )
    assert r.status_code == 200 and "期满时按规定核定" in r.json()["message_zh"], r.text
    refused(await op(api, url, "continuation", {"reason": "重复申请"}, clerk), 409, "period.stage")
    refused(await op(api, url, "transitional", {"reason": "申请"}, clerk), 409, "period.stage")

    # The person moves to 包头 东河区: the one period moves with its open months and payee.
    move = {"to_region": "150202", "reason": "本人户籍迁至包头市东河区"}
    refused(await op(api, url, "transfer", move, clerk), 403, "auth.role")
    same = move | {"to_region": "150102"}
    refused(await op(api, url, "transfer", same, reviewer), 422, "period.invalid")
    league = move | {"to_region": "150200"}
    refused(await op(api, url, "transfer", league, reviewer), 422, "period.invalid")
    r = await api.post(f"{url}/transfer", json=move, headers=reviewer)
    assert r.status_code == 200 and "东河区" in r.json()["message_zh"], r.text
    s = await period_state(h)
    assert s.region_code == "150202" and s.transfers[0].from_region == "150102"
    async with ce.db.session() as session:
        periods = (
            await session.exec(
                select(CaseRecord).where(
                    CaseRecord.applicant_key == inp.applicant_key, CaseRecord.case_type == "benefit_period"
                )
            )
        ).all()
        rows = (
            await session.exec(
                select(PaymentSchedule).where(
                    PaymentSchedule.case_id == inp.case_id, col(PaymentSchedule.state) == "scheduled"
                )
            )
        ).all()
        payee = await session.get(Payee, inp.case_id)
    assert [(p.case_id, p.region_code) for p in periods] == [(inp.case_id, "150202")]  # one period
    assert rows and {r.region_code for r in rows} == {"150202"}
    assert payee is not None and payee.region_code == "150202"
    # Now the new district's staff see it; the old district's do not.
    assert (await api.get(url, headers=await login(api, "reviewer.dh"))).status_code == 200
    refused(await api.get(url, headers=reviewer), 404, "case.not_found")
    actions = [a for a, _ in await audit_actions(ce.db, inp.case_id)]
    for action in ("period.suspend", "period.resume", "period.account_changed", "period.transfer"):
        assert action in actions
    assert inp.case_id == period_id_for(inp.claim_case_id)
