"""The medical-premium refund across the year boundary, on a time-skipping server with the real
benefit period and pay day (which pay the premiums on the person's behalf and record the failed
months), the real refund activities and the simulators over HTTP.

The period runs October → March. The person is insured as a flexible worker in November, December,
February and March (the agency's payment is refused: two failed months in each year) and not in
October and January (paid on his behalf, so never refunded). In January he claims the old year;
after the period ends, the new year's months: the first application is refused, the second paid.
Each month's refund is min(self-paid per the medical system, the standard of 368.50)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from cli.schedules import REFUND_YEAR_END_SCHEDULE, schedule_refund_year_end
from core.applicant import applicant_key
from core.db import Database
from core.parameters import _load
from core.settings import Settings
from models.benefit import premium_key
from models.case import BUSINESS_TZ
from models.notice import NoticeKind
from models.premium_refund import (
    MissingStandardRequest,
    RefundDecisionCommand,
    RefundReapply,
    RefundStatus,
    YearEndInput,
    payment_key,
)
from models.rules import YearMonth as YM
from models.tables import PremiumMonth
from sim.testing import SimHandle
from tests.clock import FILLER, FUTURE_YEAR
from tests.conftest import case_env
from tests.factories import REVIEWER, CaseEnv, messages, sim_person, store_documents
from tests.refund_support import (
    bank_payments,
    ledger_rows,
    refund_application,
    self_paid,
    start_refund,
    wait_refund,
)
from tests.waiting import polls
from tests.workflow.conftest import period_input, period_state, start_period
from tests.workflow.test_notices import _notices, _pdf
from workflows.premium_refund import (
    MissingStandardWorkflow,
    PremiumRefundWorkflow,
    PremiumRefundYearEndWorkflow,
)

FY = FUTURE_YEAR
STANDARD = Decimal("368.50")  # tests/workflow/conftest.py's operator overlay
APPROVE = RefundDecisionCommand(actor=REVIEWER, action="approve")
REJECT = RefundDecisionCommand(
    actor=REVIEWER,
    action="reject",
    reason="未提供2月份的医保缴费凭证",
    remedy="请携带2月份缴费凭证到窗口补交后重新申请",
)


def with_next_year(settings: Settings, root: Path) -> Settings:
    """The test calendar plus plain tables for the two years after FUTURE_YEAR (the period runs
    into the first and closes in the second; without them the working days there fail closed, as
    they should in production)."""
    assert settings.calendar_dir is not None
    root.mkdir(parents=True, exist_ok=True)
    for f in settings.calendar_dir.glob("*.yaml"):
        shutil.copy(f, root / f.name)
    for year in (FY + 1, FY + 2):
        (root / f"cn-{year}.yaml").write_text(FILLER.format(year=year), encoding="utf-8")
    return settings.model_copy(update={"calendar_dir": root})


@pytest_asyncio.fixture
async def refund_env(
    period_settings: Settings, sqlite_db: Database, tmp_path: Path
) -> AsyncIterator[CaseEnv]:
    async with case_env(with_next_year(period_settings, tmp_path / "calendar"), sqlite_db) as ce:
        yield ce


async def _until_premiums(ce: CaseEnv, h: Any, n: int) -> list[tuple[YM, str]]:
    """Advance the test clock pay day by pay day until the pay day has recorded ``n`` of the
    period's premiums (``premium_month``, what the refund reads); returns (month, status)."""
    for _ in polls():
        async with ce.db.session() as s:
            rows = (await s.exec(select(PremiumMonth).where(PremiumMonth.case_id == h.id))).all()
        if len(rows) >= n:
            return sorted((YM.parse(r.month), r.status) for r in rows)
        st = await period_state(h)
        now = await ce.env.get_current_time()
        due = [
            m.pay_date for m in st.schedule if m.pay_date and m.pay_date >= now.astimezone(BUSINESS_TZ).date()
        ]
        target = datetime.combine(min(due), time(20), BUSINESS_TZ) if due else now + timedelta(days=1)
        await ce.env.sleep(max(target - now, timedelta(hours=2)))
    raise AssertionError(f"only {len(rows)} premiums recorded")


async def _refused(h: object, cmd: RefundDecisionCommand, code: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as e:
        await h.execute_update(PremiumRefundWorkflow.decide_refund, cmd)  # type: ignore[attr-defined]
    assert isinstance(e.value.cause, ApplicationError) and e.value.cause.type == code


async def test_refunds_across_the_year_boundary(refund_env: CaseEnv, sim: SimHandle) -> None:
    ce = refund_env
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    number = person["id_number"]
    key = applicant_key(ce.settings, number)
    for month, amount in [(YM(FY, 11), "300.00"), (YM(FY, 12), "400.00"), (YM(FY + 1, 2), "368.50")]:
        await self_paid(sim, number, month, amount)
    await self_paid(sim, number, YM(FY + 1, 3), "500.00")
    period = await start_period(ce, period_input(ce.settings, person, first=YM(FY, 10), months=6))

    # October paid on his behalf; November and December refused (he paid them as a flexible worker).
    recorded = await _until_premiums(ce, period, 4)
    assert recorded == [
        (YM(FY, 10), "paid"),
        (YM(FY, 11), "failed"),
        (YM(FY, 12), "failed"),
        (YM(FY + 1, 1), "paid"),
    ]
    now = (await ce.env.get_current_time()).astimezone(BUSINESS_TZ)
    assert (now.year, now.month) == (FY + 1, 1)  # January: the old year has ended

    # January: the old year's refund, at the counter with the receipts.
    receipts = await store_documents(ce.db, "premium_receipt", "premium_receipt")
    old = await start_refund(
        ce,
        refund_application(
            person,
            "year_end",
            year=FY,
            claimed={YM(FY, 11): "300.00", YM(FY, 12): "420.00", YM(FY, 10): "368.50"},
            receipts=receipts,
        ),
    )
    st = await wait_refund(old, RefundStatus.UNDER_REVIEW)
    a = st.rounds[0].report.assessment  # type: ignore[union-attr]
    assert a is not None
    lines = {str(x.month): x for x in a.lines}
    assert lines[f"{FY}-11"].refund == Decimal("300.00")  # paid less than the standard
    assert lines[f"{FY}-12"].refund == STANDARD  # paid more: the standard
    assert "420.00" in lines[f"{FY}-12"].note_zh and "400.00" in lines[f"{FY}-12"].note_zh
    assert lines[f"{FY}-10"].refund == 0 and "已代缴" in lines[f"{FY}-10"].note_zh  # the agency paid
    assert a.total == Decimal("668.50") and a.differences == 2
    await _refused(
        old,
        APPROVE.model_copy(update={"actor": REVIEWER.model_copy(update={"login": "clerk.xc"})}),
        "review.intake",
    )
    await old.execute_update(PremiumRefundWorkflow.decide_refund, APPROVE)
    st = await wait_refund(old, RefundStatus.PAID)
    assert st.payment is not None and st.payment.amount == Decimal("668.50")
    assert await bank_payments(sim, payment_key(old.id)) == 1

    # February and March refused again; before the period ends a period-end application is early.
    await _until_premiums(ce, period, 5)
    early = await start_refund(ce, refund_application(person, "period_end", receipts=receipts))
    st = await wait_refund(early, RefundStatus.CLOSED)
    assert st.close_reason == "too_early"
    told = [
        m
        for m in await messages(sim, early.id, "premium_refund_too_early")
        if m["template"] == "premium_refund_too_early"
    ]
    assert told and f"{FY + 1}-04-01" in told[0]["text_zh"]  # the date from which he may apply
    await _until_premiums(ce, period, 6)
    await period.result()

    # After the period: the new year's months. Refused first (reason and remedy), then paid.
    new = await start_refund(ce, refund_application(person, "period_end", receipts=receipts[:1]))
    st = await wait_refund(new, RefundStatus.UNDER_REVIEW)
    a = st.rounds[0].report.assessment  # type: ignore[union-attr]
    assert a is not None and a.total == STANDARD + STANDARD
    assert {str(x.month): x.note_zh for x in a.lines if x.refund == 0}[
        f"{FY}-11"
    ] == "该月已返还，不再重复返还"
    await _refused(new, REJECT.model_copy(update={"remedy": ""}), "review.reason_required")
    await new.execute_update(PremiumRefundWorkflow.decide_refund, REJECT)
    await wait_refund(new, RefundStatus.REJECTED)
    told = [
        m
        for m in await messages(sim, new.id, "premium_refund_rejected")
        if m["template"] == "premium_refund_rejected"
    ]
    assert told and REJECT.remedy in told[0]["text_zh"]
    await new.execute_update(
        PremiumRefundWorkflow.reapply, RefundReapply(by="clerk.xc", receipts=receipts[1:])
    )
    await wait_refund(new, RefundStatus.UNDER_REVIEW, rounds=2)
    await new.execute_update(PremiumRefundWorkflow.decide_refund, APPROVE.model_copy(update={"round": 2}))
    st = await wait_refund(new, RefundStatus.PAID, rounds=2)
    assert st.payment is not None and st.payment.amount == Decimal("737.00")
    paid = [
        m
        for m in await messages(sim, new.id, "premium_refund_paid")
        if m["template"] == "premium_refund_paid"
    ]
    assert (
        paid
        and f"{FY + 1}年2月368.50元" in paid[0]["text_zh"]
        and f"{FY + 1}年3月368.50元" in paid[0]["text_zh"]
    )

    # The official notices of each step: 受理回执, 不予返还决定书 (reason, remedy, 行政复议 and
    # 行政诉讼 with their limits), 返还决定书 with the amount per month; each quoted in the message.
    notices = {n.kind: n for n in await _notices(ce, new.id)}
    assert sorted(notices) == sorted(
        k.value
        for k in (NoticeKind.REFUND_RECEIPT, NoticeKind.REFUND_NOT_APPROVED, NoticeKind.REFUND_APPROVED)
    )
    assert "受理回执" in await _pdf(ce, notices[NoticeKind.REFUND_RECEIPT.value])
    refusal = await _pdf(ce, notices[NoticeKind.REFUND_NOT_APPROVED.value])
    assert REJECT.reason in refusal and REJECT.remedy in refusal
    assert "行政复议" in refusal and "60日" in refusal and "行政诉讼" in refusal and "6个月" in refusal
    assert notices[NoticeKind.REFUND_NOT_APPROVED.value].check_code in told[0]["text_zh"]
    decision = await _pdf(ce, notices[NoticeKind.REFUND_APPROVED.value])
    assert "737.00" in decision and f"{FY + 1}年2月至{FY + 1}年3月（2个月）" in decision
    assert "368.50元" in decision
    assert notices[NoticeKind.REFUND_APPROVED.value].check_code in paid[0]["text_zh"]
    assert "行政复议" not in decision

    # Exactly one ledger row per person and month; each case paid once.
    assert await ledger_rows(ce.db, key) == [
        (f"{FY}-11", old.id, Decimal("300.00")),
        (f"{FY}-12", old.id, STANDARD),
        (f"{FY + 1}-02", new.id, STANDARD),
        (f"{FY + 1}-03", new.id, STANDARD),
    ]
    assert await bank_payments(sim, payment_key(new.id)) == 1

    # A third application finds nothing left: approval is refused.
    again = await start_refund(ce, refund_application(person, "period_end", receipts=receipts))
    st = await wait_refund(again, RefundStatus.UNDER_REVIEW)
    assert st.rounds[0].report.assessment.total == 0  # type: ignore[union-attr]
    await _refused(again, APPROVE, "review.invalid")


async def test_year_end_run_tells_each_person_and_reports_by_district(
    refund_env: CaseEnv, sim: SimHandle
) -> None:
    ce = refund_env
    person = await sim_person(
        sim.base_url, sim.token, scenario="eligible", registered=True, medical_status="flexible_worker"
    )
    period = await start_period(ce, period_input(ce.settings, person, first=YM(FY, 11), months=2))
    await period.result()
    now = await ce.env.get_current_time()
    report = await ce.env.client.execute_workflow(
        PremiumRefundYearEndWorkflow.run,
        YearEndInput(year=FY),
        id=f"refund-year-end-{FY}-{now.timestamp():.0f}",
        task_queue=ce.task_queue,
    )
    assert report.year == FY and report.people >= 1 and report.months >= 2
    league = [d for d in report.districts if d.region_code == "150100"]
    assert league and league[0].estimate >= STANDARD * 2
    msgs = await messages(sim, period.id, "premium_refund_invitation")
    told = [m for m in msgs if m["template"] == "premium_refund_invitation"]
    assert len(told) == 1 and "缴费凭证" in told[0]["text_zh"] and f"{FY + 1}-12-31" in told[0]["text_zh"]


# --- a standard entered late -------------------------------------------------------------------------

NO_STANDARD = """\
parameters:
  medical.proxy_standard_monthly:
    values: []
"""
LATE_STANDARD = """\
parameters:
  medical.proxy_standard_monthly:
    values:
      - effective_from: 2020-01-01
        value: "368.50"
        status: unconfirmed
        source: "test: the 医保 bureau's standard, entered late"
"""


async def test_standard_entered_late_pays_the_missing_months_once(
    wf_settings: Settings, sqlite_db: Database, sim: SimHandle, tmp_path: Path
) -> None:
    (tmp_path / "operator.yaml").write_text(NO_STANDARD, encoding="utf-8")
    settings = wf_settings.model_copy(update={"params_dir": tmp_path})
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    async with case_env(settings, sqlite_db) as ce:
        inp = period_input(ce.settings, person, first=YM(FY, 11), months=2)
        period = await start_period(ce, inp)
        await period.result()
        async with ce.db.session() as s:
            rows = (
                await s.exec(PremiumMonth.__table__.select().where(PremiumMonth.case_id == inp.case_id))
            ).all()  # type: ignore[attr-defined]
        assert sorted((r.month, r.status, r.reason_code) for r in rows) == [
            (f"{FY}-11", "failed", "premium.standard_missing"),
            (f"{FY}-12", "failed", "premium.standard_missing"),
        ]
        # The operator enters the standard (the worker re-reads the parameters).
        (tmp_path / "operator.yaml").write_text(LATE_STANDARD, encoding="utf-8")
        _load.cache_clear()
        for n in (1, 2):  # run twice: the second run finds nothing left to pay
            result = await ce.env.client.execute_workflow(
                MissingStandardWorkflow.run,
                MissingStandardRequest(as_of=YM(FY + 1, 1).first_day()),
                id=f"premium-standard-entered-{inp.case_id}-{n}",
                task_queue=ce.task_queue,
            )
            assert result.paid == (2 if n == 1 else 0)
        async with ce.db.session() as s:
            rows = (
                await s.exec(PremiumMonth.__table__.select().where(PremiumMonth.case_id == inp.case_id))
            ).all()  # type: ignore[attr-defined]
        assert sorted((r.month, r.status, r.total) for r in rows) == [
            (f"{FY}-11", "paid", STANDARD),
            (f"{FY}-12", "paid", STANDARD),
        ]
        async with httpx.AsyncClient(base_url=sim.base_url) as c:
            held = (await c.get("/admin/medical/premiums", params={"id_number": person["id_number"]})).json()
        keys = sorted(p["idempotency_key"] for p in held["premiums"] if p["status"] == "paid")
        assert keys == sorted(
            premium_key(inp.case_id, YM(FY, m)) for m in (11, 12)
        )  # once each, the same key
        told = [
            m
            for m in await messages(sim, inp.case_id, "premium_paid_late")
            if m["template"] == "premium_paid_late"
        ]
        assert len(told) == 2
    _load.cache_clear()


# --- the year-end Schedule ------------------------------------------------------------------------------


async def test_the_year_end_schedule_runs_the_day_after_the_contribution_year(
    local_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """What ``uiflow dev`` does on every start: create the yearly schedule, then update it; it fires
    on the day after ``refund.contribution_year_end`` (an operator may move the year's end)."""
    client = local_env.client
    assert await schedule_refund_year_end(client, "refund-q") is True
    handle = client.get_schedule_handle(REFUND_YEAR_END_SCHEDULE)
    try:
        cal = (await handle.describe()).schedule.spec.calendars[0]
        assert ([r.start for r in cal.month], [r.start for r in cal.day_of_month]) == ([1], [1])
        (tmp_path / "operator.yaml").write_text(
            "parameters:\n  refund.contribution_year_end:\n    values:\n"
            '      - {effective_from: 2020-01-01, value: "06-30", status: unconfirmed, source: test,'
            " note: 'UNCONFIRMED: test'}\n",
            encoding="utf-8",
        )
        assert await schedule_refund_year_end(client, "refund-q", tmp_path) is False
        desc = await handle.describe()
        cal = desc.schedule.spec.calendars[0]
        assert ([r.start for r in cal.month], [r.start for r in cal.day_of_month]) == ([7], [1])
        assert desc.schedule.spec.time_zone_name == "Asia/Shanghai"
    finally:
        await handle.delete()
