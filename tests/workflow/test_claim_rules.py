"""Issue 14's rule corrections on the claim, on the time-skipping server with the real activities,
the simulators over HTTP and the case database: the retirement category is never guessed from
sex (the claim waits for the clerk), the review clock runs from receipt for a person already
registered, and contribution time is counted afresh after an earlier benefit spell."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.db import Database
from core.settings import Settings
from models.claim import ApproveCommand, ClaimStage, ClaimStatus, RetirementCategoryCommand
from models.enums import Role
from models.rules import RetirementCategory
from models.staff import StaffActor
from models.tables import CaseRecord
from sim.testing import SimHandle
from tests.clock import FUTURE_YEAR
from tests.conftest import case_env
from tests.factories import CLERK, REVIEWER, CaseEnv, audit_actions, claim_input, sim_person
from tests.workflow.test_benefit_claim import TZ, sleep_until, start, state, wait_status, wait_until
from workflows.benefit_claim import BenefitClaimWorkflow

Y = FUTURE_YEAR
OTHER_CLERK = StaffActor(login="clerk.dh", name="包头受理员", roles=[Role.INTAKE_CLERK], region_code="150202")


@pytest_asyncio.fixture
async def rules_env(wf_settings: Settings, sqlite_db: Database) -> AsyncIterator[CaseEnv]:
    async with case_env(wf_settings, sqlite_db) as ce:
        yield ce


async def _refused(h: object, cmd: RetirementCategoryCommand) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as e:
        await h.execute_update(BenefitClaimWorkflow.set_retirement_category, cmd)  # type: ignore[attr-defined]
    cause = e.value.cause
    assert isinstance(cause, ApplicationError)
    return str(cause.type)


async def test_a_claim_without_a_category_waits_for_the_clerk_and_never_guesses_from_sex(
    rules_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(
        sim.base_url,
        sim.token,
        scenario="eligible",
        sex="female",
        registered=True,
        retirement_category="none",
    )
    h = await start(rules_env, claim_input(rules_env.settings, person))
    s = await wait_until(h, lambda s: s.stage == ClaimStage.AWAITING_CATEGORY, what="awaiting category")
    assert s.status == ClaimStatus.CHECKING and not s.rounds[0].report
    assert "category.missing" in [e.what for e in s.timeline]

    ok = RetirementCategoryCommand(
        actor=CLERK, category=RetirementCategory.FEMALE_55, note="人事档案：管理岗位"
    )
    assert await _refused(h, ok.model_copy(update={"actor": OTHER_CLERK})) == "review.region"
    assert await _refused(h, ok.model_copy(update={"note": "x "})) == "review.note_required"
    await h.execute_update(BenefitClaimWorkflow.set_retirement_category, ok)
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    report = s.rounds[0].report
    assert report is not None and report.retirement.category is RetirementCategory.FEMALE_55
    assert await _refused(h, ok) == "review.stage"  # stated once
    assert ("claim.retirement_category", "clerk.xc") in await audit_actions(rules_env.db, h.id)


async def test_the_category_comes_from_the_contribution_record(rules_env: CaseEnv, sim: SimHandle) -> None:
    # A woman whose record says 55: the old guess from sex would have said 50.
    person = await sim_person(
        sim.base_url,
        sim.token,
        scenario="eligible",
        sex="female",
        registered=True,
        retirement_category="female-55",
    )
    h = await start(rules_env, claim_input(rules_env.settings, person))
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    report = s.rounds[0].report
    assert report is not None and report.retirement.category is RetirementCategory.FEMALE_55
    assert "category.missing" not in [e.what for e in s.timeline]


async def test_review_clock_runs_from_receipt_for_a_person_already_registered(
    rules_env: CaseEnv, sim: SimHandle
) -> None:
    """Received Monday Y-02-01 (tests/clock.py's synthetic table): the 10th working day is the make-up
    Saturday Y-02-20 (as in test_benefit_claim). The case starts two days later; the clock still
    runs from the day of receipt, since the person was registered all along."""
    received = datetime(Y, 2, 1, 10, 0, tzinfo=TZ)
    await sleep_until(rules_env, datetime(Y, 2, 3, 10, 0, tzinfo=TZ))
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    h = await start(rules_env, claim_input(rules_env.settings, person, received_at=received))
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    dl = s.rounds[0].deadline
    assert dl is not None and dl.start_day == date(Y, 2, 1) and dl.deadline == date(Y, 2, 20)


async def test_contribution_time_is_counted_afresh_after_a_spell(rules_env: CaseEnv, sim: SimHandle) -> None:
    """Issue 14: four years contributed, a 12-month spell used up, then 18 months of new work. The
    lifetime count (66 months) would give 18 months; the law (domain.md A3) gives 12 + 0 unused."""
    person = await sim_person(
        sim.base_url,
        sim.token,
        scenario="eligible",
        registered=True,
        cumulative_months=66,
        last_consecutive_months=18,
    )
    inp = claim_input(rules_env.settings, person)
    now = datetime.now(UTC)
    async with rules_env.db.session() as sess:
        sess.add(
            CaseRecord(
                case_id=f"period-150102-{inp.applicant_key}-old",
                case_type="benefit_period",
                status="closed",
                stage="closed",
                region_code="150102",
                applicant_key=inp.applicant_key,
                received_at=now,
                updated_at=now,
                closed_at=now,
                summary={"first_month": "2021-01", "cumulative_contribution_months": 48, "unused_months": 0},
            )
        )
        await sess.commit()
    h = await start(rules_env, inp)
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    report = s.rounds[0].report
    assert report is not None and report.counted_contribution_months == 18
    assert report.eligibility.max_months == 12 and report.unused_months_carried == 0
    await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    result = await h.result()
    assert result.entitlement is not None and result.entitlement.max_months == 12
    assert result.entitlement.cumulative_contribution_months == 66
    assert (await state(h)).status == ClaimStatus.APPROVED
