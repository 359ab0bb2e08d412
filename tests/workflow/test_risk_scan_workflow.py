"""The scheduled scan as a workflow on the time-skipping server, with the real activity reading the
simulators: each group of hits opens a verification case; a second scan joins the open cases
instead of opening new ones."""

from __future__ import annotations

import uuid
from datetime import timedelta

from models.verification import RiskScanInput, VerificationState
from sim.testing import SimHandle
from tests.factories import CaseEnv
from workflows.risk_scan import RiskScanWorkflow
from workflows.verification import VerificationWorkflow


async def test_scan_opens_cases_then_joins_them(claim_env: CaseEnv, sim: SimHandle) -> None:
    ce = claim_env
    first = await ce.env.client.execute_workflow(
        RiskScanWorkflow.run,
        RiskScanInput(),
        id=f"risk-scan-{uuid.uuid4().hex[:6]}",
        task_queue=ce.task_queue,
        execution_timeout=timedelta(hours=1),
    )
    assert first.hits > 0 and first.opened and not first.joined
    ring = next(c for c in first.opened if "contact-" in c or "employer-" in c)
    state: VerificationState = await ce.env.client.get_workflow_handle(ring).query(
        VerificationWorkflow.state_query
    )
    assert state.hits and all(h.rule_version and h.explanation_zh and h.figures for h in state.hits)
    kinds = {p.kind for p in state.parties}
    assert "person" in kinds
    second = await ce.env.client.execute_workflow(
        RiskScanWorkflow.run,
        RiskScanInput(),
        id=f"risk-scan-{uuid.uuid4().hex[:6]}",
        task_queue=ce.task_queue,
        execution_timeout=timedelta(hours=1),
    )
    assert sorted(second.joined) == sorted(first.opened) and not second.opened
    again: VerificationState = await ce.env.client.get_workflow_handle(ring).query(
        VerificationWorkflow.state_query
    )
    assert len(again.hits) == 2 * len(state.hits) and len(again.parties) == len(state.parties)
