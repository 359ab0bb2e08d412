"""A minimal case on the review kit, so the kit can be tested alone (``tests/kit/test_review_kit.py``).

Why: the kit decides for every case type; its levels, send-back, deadlines, refusal codes and
races are tested here once, on a host that adds nothing of its own, with the four activities the
kit calls (projection, audit, notification, deadline) faked by name."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import CaseProjection
    from models.enums import CaseType
    from models.review import ReviewChainState, ReviewCommand, ReviewDecision, ReviewLevelSpec
    from workflows.base import UnblockableCase, region_path
    from workflows.review_levels import MultiLevelReview, Outcome


class HostInput(BaseModel):
    case_id: str
    levels: list[ReviewLevelSpec]
    region_code: str = "150102"
    applicant_key: str = "applicant-key-of-the-case"
    submitted_by: str = "clerk.xc"


def _authority(case_region: str, _level: str) -> list[str]:
    return region_path(case_region)


@workflow.defn(name="KitHostWorkflow")
class KitHostWorkflow(UnblockableCase):
    @workflow.init
    def __init__(self, inp: HostInput) -> None:
        self._init_base()
        self.case_id = inp.case_id
        self.region_code = inp.region_code
        self.inp = inp
        self.outcome = "pending"
        self.closing = False
        self.review = MultiLevelReview(
            self,
            inp.levels,
            case_region=inp.region_code,
            applicant_key=inp.applicant_key,
            authority=_authority,
            case_noun_zh="测试案件",
            audit_prefix="kit",
            excluded_logins=(inp.submitted_by,),
        )

    @workflow.run
    async def run(self, inp: HostInput) -> str:
        await self.review.run(self._finished)
        # The case stays open after its review (as a dispute does while it applies the change),
        # until the test closes it: decisions then are refused as ``case.decided`` (the desk).
        await workflow.wait_condition(lambda: self.closing)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.outcome

    async def _finished(self, outcome: Outcome) -> None:
        self.outcome = outcome
        await self.project()

    def projection(self) -> CaseProjection:
        return CaseProjection(
            case_id=self.case_id,
            case_type=CaseType.COMPLAINT,
            status=self.outcome,
            stage=self.review.state.current or "",
            region_code=self.region_code,
            applicant_key=self.inp.applicant_key,
            received_at=datetime(2027, 1, 4, tzinfo=UTC),
            overdue=self.review.state.overdue,
            version=0,
        )

    @workflow.signal
    def close(self) -> None:
        self.closing = True

    def processing(self) -> bool:
        return self.review.desk.busy

    @workflow.query
    def chain(self) -> ReviewChainState:
        return self.review.state

    @workflow.update
    async def first(self, cmd: ReviewCommand) -> ReviewDecision:
        return await self.review.decide("first", cmd)

    @first.validator
    def _validate_first(self, cmd: ReviewCommand) -> None:
        self.review.validate("first", cmd)

    @workflow.update
    async def second(self, cmd: ReviewCommand) -> ReviewDecision:
        return await self.review.decide("second", cmd)

    @second.validator
    def _validate_second(self, cmd: ReviewCommand) -> None:
        self.review.validate("second", cmd)

    @workflow.update
    async def nowhere(self, cmd: ReviewCommand) -> ReviewDecision:
        return await self.review.decide("nowhere", cmd)

    @nowhere.validator
    def _validate_nowhere(self, cmd: ReviewCommand) -> None:
        self.review.validate("nowhere", cmd)
