"""The scheduled risk scan (issue 16): a Temporal Schedule starts this workflow (registered by
``uiflow dev`` as the archiver's is), whose activity runs every scan rule; each group of hits
opens a verification case (核查) or, while that case is open, joins it (Signal ``add_hits``).

Why a workflow: every run, the hits it found with their rule versions, and the cases it opened are
in Temporal's history, next to the cases themselves. Deterministic: all I/O is in the activity."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.risk_scan import RiskScanActivities
    from models.enums import CaseType
    from models.verification import (
        RiskScanInput,
        RiskScanResult,
        ScanCase,
        ScanRequest,
        VerificationInput,
    )
    from workflows.base import RETRY, initial_search_attributes, timeout_for
    from workflows.verification import VerificationWorkflow

SCHEDULE_ID = "uiflow-risk-scan"
WORKFLOW_ID = "uiflow-risk-scan"


@workflow.defn
class RiskScanWorkflow:
    @workflow.run
    async def run(self, inp: RiskScanInput) -> RiskScanResult:
        report = await workflow.execute_activity_method(
            RiskScanActivities.run_scan,
            ScanRequest(as_of=inp.as_of),
            start_to_close_timeout=timeout_for(RiskScanActivities.run_scan),
            retry_policy=RETRY,
        )
        result = RiskScanResult(hits=len(report.hits), flagged=report.flagged)
        if not inp.open_cases:
            return result
        for case in report.cases:
            if await self._open(case):
                result.opened.append(case.case_id)
            else:
                result.joined.append(case.case_id)
        return result

    async def _open(self, case: ScanCase) -> bool:
        """Open the case; if it is already open, its hits join it."""
        try:
            await workflow.start_child_workflow(
                VerificationWorkflow.run,
                VerificationInput(
                    case_id=case.case_id,
                    region_code=case.region_code,
                    opened_by="risk-scan",
                    opened_at=workflow.now(),
                    reason_zh=case.reason_zh,
                    hits=case.batch,
                ),
                id=case.case_id,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                search_attributes=initial_search_attributes(CaseType.RISK_CHECK, case.region_code, "open"),
            )
            return True
        except WorkflowAlreadyStartedError:
            await workflow.get_external_workflow_handle(case.case_id).signal(
                VerificationWorkflow.add_hits, case.batch
            )
            return False


WORKFLOWS = [RiskScanWorkflow]
