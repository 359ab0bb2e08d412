"""The skill-upgrade subsidy on a time-skipping server with the real activities, the simulators
over HTTP and the packaged dated rules (plus an operator overlay that confirms recipients for 2026,
an UNCONFIRMED rule: the case must say which rule version decided it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.applicant import applicant_key
from core.db import Database
from core.settings import Settings
from models.case import UnblockCommand
from models.enums import Channel
from models.rules import ApplicantKind, CertificateLevel
from models.skill_subsidy import SubsidyDecisionCommand, SubsidyReapply, SubsidyStatus, payment_key
from sim.testing import SimHandle
from tests.conftest import case_env
from tests.factories import (
    OPS,
    REVIEWER,
    CaseEnv,
    SubsidyHandle,
    applied,
    messages,
    prior_grant,
    running_benefit_period,
    sim_certificate,
    sim_person,
    start_subsidy,
    store_documents,
    subsidy_application,
    wait_subsidy,
)
from workflows.skill_subsidy import SkillSubsidyWorkflow

OVERLAY = """\
parameters:
  skill.recipients_eligible:
    values:
      - effective_from: 2026-01-01
        value: true
        status: confirmed
        source: "test: the business owner confirmed the 2026 extension for recipients"
"""


@pytest_asyncio.fixture
async def subsidy_env(wf_settings: Settings, sqlite_db: Database, tmp_path: Path) -> AsyncIterator[CaseEnv]:
    (tmp_path / "operator.yaml").write_text(OVERLAY, encoding="utf-8")
    async with case_env(wf_settings.model_copy(update={"params_dir": tmp_path}), sqlite_db) as ce:
        yield ce


APPROVE = SubsidyDecisionCommand(actor=REVIEWER, action="approve")


async def employee(sim: SimHandle, months: int = 48) -> dict:  # type: ignore[type-arg]
    return await sim_person(sim.base_url, sim.token, cumulative_months=months)


async def _refused(h: SubsidyHandle, code: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as e:
        await h.execute_update(SkillSubsidyWorkflow.decide_subsidy, APPROVE)
    assert isinstance(e.value.cause, ApplicationError) and e.value.cause.type == code


async def test_employee_with_fit_statement_is_approved_and_paid_once(
    subsidy_env: CaseEnv, sim: SimHandle
) -> None:
    person = await employee(sim)
    cert = await sim_certificate(sim, person)
    [fit] = await store_documents(subsidy_env.db, "job_fit_statement")
    h = await start_subsidy(subsidy_env, subsidy_application(person, cert, fit=fit))
    s = await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW)
    report = s.rounds[0].report
    assert report is not None and report.certificate.outcome == "found"
    assert report.assessment.eligible and report.assessment.amount == Decimal("1500")
    assert s.fit_statement_sha256 == fit.sha256
    assert s.rounds[0].deadline is not None and s.rounds[0].deadline.working_days == 10
    rules = {r.name: r for r in report.assessment.rules}
    assert rules["skill.required_contribution_months"].value == "36"
    assert rules["skill.required_contribution_months"].status == "unconfirmed"

    await h.execute_update(SkillSubsidyWorkflow.decide_subsidy, APPROVE)
    await applied(h)
    result = await h.result()
    assert result.status == SubsidyStatus.PAID and result.amount == Decimal("1500")
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        ledger = (await c.get("/admin/bank/ledger")).json()
    assert ledger["payments_per_key"][payment_key(h.id)] == 1
    templates = [m["template"] for m in await messages(sim, h.id, wait_for="subsidy_paid")]
    assert templates == ["subsidy_received", "subsidy_approved", "subsidy_paid"]


async def test_employee_without_fit_statement_cannot_be_approved(
    subsidy_env: CaseEnv, sim: SimHandle
) -> None:
    person = await employee(sim)
    cert = await sim_certificate(sim, person)
    h = await start_subsidy(subsidy_env, subsidy_application(person, cert))
    s = await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW)
    assert s.rounds[0].report is not None
    assert ("skill.job_fit_missing", "缺少用人单位盖章的证岗相适材料") in s.rounds[
        0
    ].report.assessment.reasons
    await _refused(h, "review.invalid")
    # Refused with reason and remedy; the re-application with the statement is approved.
    await h.execute_update(
        SkillSubsidyWorkflow.decide_subsidy,
        SubsidyDecisionCommand(
            actor=REVIEWER,
            action="reject",
            reason="缺少证岗相适材料",
            remedy="请补充单位盖章的证岗相适材料后重新申请",
        ),
    )
    await applied(h)
    await wait_subsidy(h, SubsidyStatus.REJECTED)
    [fit] = await store_documents(subsidy_env.db, "job_fit_statement")
    await h.execute_update(SkillSubsidyWorkflow.reapply, SubsidyReapply(by="applicant", fit_statement=fit))
    await applied(h)
    s = await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW, rounds=2)
    assert s.rounds[1].report is not None and s.rounds[1].report.assessment.eligible
    await h.execute_update(SkillSubsidyWorkflow.decide_subsidy, APPROVE)
    await applied(h)
    assert (await h.result()).status == SubsidyStatus.PAID


async def test_recipient_is_approved_without_fit_statement(subsidy_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token)
    key = applicant_key(subsidy_env.settings, person["id_number"])
    period = await running_benefit_period(subsidy_env.db, key)
    cert = await sim_certificate(sim, person, level=CertificateLevel.SENIOR)
    h = await start_subsidy(
        subsidy_env,
        subsidy_application(person, cert, kind=ApplicantKind.BENEFIT_RECIPIENT),
        channel=Channel.ONLINE,
    )
    s = await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW)
    report = s.rounds[0].report
    assert report is not None and report.insurance.benefit_period_id == period
    assert report.assessment.eligible and report.assessment.amount == Decimal("2000")
    assert {r.name: r.status for r in report.assessment.rules}["skill.recipients_eligible"] == "confirmed"
    await h.execute_update(SkillSubsidyWorkflow.decide_subsidy, APPROVE)
    await applied(h)
    assert (await h.result()).status == SubsidyStatus.PAID


async def test_lower_level_after_higher_is_refused(subsidy_env: CaseEnv, sim: SimHandle) -> None:
    person = await employee(sim)
    key = applicant_key(subsidy_env.settings, person["id_number"])
    await prior_grant(subsidy_env.db, key, "4-12-01-01", CertificateLevel.SENIOR)
    cert = await sim_certificate(sim, person, level=CertificateLevel.INTERMEDIATE)
    [fit] = await store_documents(subsidy_env.db, "job_fit_statement")
    h = await start_subsidy(subsidy_env, subsidy_application(person, cert, fit=fit))
    s = await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW)
    assert s.rounds[0].report is not None
    codes = [c for c, _ in s.rounds[0].report.assessment.reasons]
    assert "skill.lower_after_higher" in codes
    await _refused(h, "review.invalid")


async def test_certificate_outside_the_window_is_refused(subsidy_env: CaseEnv, sim: SimHandle) -> None:
    person = await employee(sim)
    cert = await sim_certificate(sim, person, issued_on=date.today() - timedelta(days=400))
    [fit] = await store_documents(subsidy_env.db, "job_fit_statement")
    h = await start_subsidy(subsidy_env, subsidy_application(person, cert, fit=fit))
    s = await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW)
    assert s.rounds[0].report is not None
    assert [c for c, _ in s.rounds[0].report.assessment.reasons] == ["skill.window_expired"]
    await _refused(h, "review.invalid")


@pytest.mark.parametrize(("occupation", "allowed"), [("4-12-01-01", False), ("6-31-01-03", True)])
async def test_yearly_limit_with_the_shortage_exception(
    subsidy_env: CaseEnv, sim: SimHandle, occupation: str, allowed: bool
) -> None:
    """2026: one claim a year, plus up to two for 急需紧缺 occupations (电工 is on the catalogue)."""
    person = await employee(sim)
    key = applicant_key(subsidy_env.settings, person["id_number"])
    await prior_grant(subsidy_env.db, key, "4-03-02-01", CertificateLevel.JUNIOR)
    cert = await sim_certificate(sim, person, occupation_code=occupation)
    [fit] = await store_documents(subsidy_env.db, "job_fit_statement")
    h = await start_subsidy(subsidy_env, subsidy_application(person, cert, fit=fit))
    s = await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW)
    a = s.rounds[0].report.assessment if s.rounds[0].report else None
    assert a is not None and a.shortage_occupation is allowed
    assert a.eligible is allowed
    if allowed:
        await h.execute_update(SkillSubsidyWorkflow.decide_subsidy, APPROVE)
        await applied(h)
        assert (await h.result()).status == SubsidyStatus.PAID
    else:
        assert [c for c, _ in a.reasons] == ["skill.yearly_limit"]
        await _refused(h, "review.invalid")


async def test_certificate_site_down_blocks_then_resumes(subsidy_env: CaseEnv, sim: SimHandle) -> None:
    person = await employee(sim)
    cert = await sim_certificate(sim, person)
    [fit] = await store_documents(subsidy_env.db, "job_fit_statement")
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        await c.put("/admin/faults/certificates", json={"error_rate": 1.0})
        try:
            h = await start_subsidy(subsidy_env, subsidy_application(person, cert, fit=fit))
            s = await wait_subsidy(h, SubsidyStatus.CHECKING, blocked=True)
            assert s.blocked is not None and "certificates.unavailable" in s.blocked
            assert not s.rounds[0].report  # never taken as "not found"
        finally:
            await c.delete("/admin/faults/certificates")
    await h.execute_update(
        SkillSubsidyWorkflow.unblock_case, UnblockCommand(actor=OPS, note="证书查询系统已恢复")
    )
    await applied(h)
    s = await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW)
    assert s.blocked is None and s.rounds[0].report is not None
    assert s.rounds[0].report.certificate.outcome == "found"
