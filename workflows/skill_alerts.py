"""Anomaly alerts of the skill-upgrade subsidy (notice item 6).

``SkillAlertScanWorkflow`` runs daily from a Temporal Schedule (registered by ``uiflow dev`` beside
the archiver's): one activity gathers the figures and applies the dated rules, and each alert
becomes an ``SkillAlertWorkflow`` case whose id is the alert's stable key, so a finding raised
yesterday is not raised again. An alert case is referred to the skill-appraisal department by a
supervisor or risk inspector, and closes on the department's response: confirmed irregular → the
affected subsidies go to recovery; cleared → closed.

Deterministic: the date from ``workflow.now()``; all I/O in activities."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.skill_alerts import SkillAlertActivities
    from models.case import CaseProjection, DecisionReceipt, local_date
    from models.enums import CaseType, Role
    from models.skill_subsidy import (
        ALERT_KIND_LABELS,
        ALERT_PREFIX,
        ALERT_STATUS_LABELS,
        AlertInput,
        AlertScanInput,
        AlertScanRequest,
        AlertScanResult,
        AlertState,
        AlertStatus,
        AppraisalResponse,
        RecoveryRequest,
        ReferAlert,
    )
    from workflows.base import CaseWorkflowBase, initial_search_attributes, refuse, region_path, timeout_for

SCHEDULE_ID = "uiflow-skill-alerts"
WORKFLOW_ID = "uiflow-skill-alerts"
ALERT_ROLES = (Role.SUPERVISOR, Role.RISK_INSPECTOR)


@workflow.defn
class SkillAlertScanWorkflow:
    """Not a case: a run that fails shows as failed in the schedule, like the archiver's."""

    @workflow.run
    async def run(self, inp: AlertScanInput) -> AlertScanResult:
        as_of = local_date(workflow.now())
        alerts = await workflow.execute_activity_method(
            SkillAlertActivities.scan_skill_alerts,
            AlertScanRequest(as_of=as_of, lookback_days=inp.lookback_days),
            start_to_close_timeout=timeout_for(SkillAlertActivities.scan_skill_alerts),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10), maximum_attempts=5),
        )
        result = AlertScanResult()
        for a in alerts:
            case_id = f"{ALERT_PREFIX}{a.key}"
            try:
                await workflow.start_child_workflow(
                    SkillAlertWorkflow.run,
                    AlertInput(case_id=case_id, alert=a, raised_at=workflow.now()),
                    id=case_id,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    search_attributes=initial_search_attributes(
                        CaseType.SKILL_ALERT.value, a.region_code, "open"
                    ),
                    execution_timeout=timedelta(days=3 * 365),
                )
                result.raised.append(case_id)
            except WorkflowAlreadyStartedError:
                result.already += 1
        return result


@workflow.defn
class SkillAlertWorkflow(CaseWorkflowBase):
    @workflow.init
    def __init__(self, inp: AlertInput) -> None:
        self._init_base()
        self.inp = inp
        self.case_id = inp.case_id
        self.region_code = inp.alert.region_code
        self.state = AlertState(case_id=inp.case_id, alert=inp.alert, status=AlertStatus.OPEN)
        self._response: AppraisalResponse | None = None

    @workflow.run
    async def run(self, inp: AlertInput) -> AlertState:
        self.state.timeline = self.timeline
        a = inp.alert
        self.record(
            "system",
            "uiflow",
            "alert.raised",
            f"预警（{ALERT_KIND_LABELS[a.kind]}）：{a.text_zh}",
            **a.figures,
        )
        await self.project()
        await self.notify_staff(
            Role.SUPERVISOR.value, a.region_code, "skill_alert", f"技能提升补贴预警：{a.text_zh}"
        )
        await workflow.wait_condition(lambda: self._response is not None)
        r = self._response
        assert r is not None
        self.state.response = r.outcome
        if r.outcome == "confirmed":
            self.state.recovered = await self.act(
                SkillAlertActivities.mark_recovery,
                RecoveryRequest(alert_id=self.case_id, case_ids=a.case_ids),
            )
            self.state.status = AlertStatus.RECOVERY
            text = f"技能鉴定部门认定违规：{r.note}；{len(self.state.recovered)}笔补贴转入追回"
        else:
            self.state.status = AlertStatus.CLOSED
            text = f"技能鉴定部门核查排除：{r.note}"
        self.record("staff", r.actor.login, f"alert.{r.outcome}", text)
        await self.audit(
            r.actor, f"skill_alert.{r.outcome}", {"note": r.note, "recovered": self.state.recovered}
        )
        await self.project()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    def projection(self) -> CaseProjection:
        s = self.state
        done = s.status in (AlertStatus.RECOVERY, AlertStatus.CLOSED)
        return CaseProjection(
            case_id=self.case_id,
            case_type=CaseType.SKILL_ALERT,
            status=s.status.value,
            stage=s.status.value,
            region_code=self.region_code,
            applicant_key="-",
            applicant_name=ALERT_KIND_LABELS[s.alert.kind],
            received_at=self.inp.raised_at,
            risk_flagged=True,
            summary={
                "status_label": ALERT_STATUS_LABELS[s.status],
                "kind": s.alert.kind,
                "text_zh": s.alert.text_zh,
                "figures": s.alert.figures,
                "case_ids": s.alert.case_ids,
            },
            closed_at=workflow.now() if done else None,
            version=0,
        )

    @workflow.query
    def state_query(self) -> AlertState:
        return self.state

    def _check_staff(self, actor: Any, what: str) -> None:
        if not actor.has(*ALERT_ROLES):
            raise refuse("alert.role", f"只有业务主管或风险稽核员可以{what}")
        if actor.region_code not in region_path(self.region_code):
            raise refuse("alert.region", f"按本地区的业务授权，您无权{what}")

    def _receipt(self, message_zh: str) -> DecisionReceipt:
        return DecisionReceipt(
            case_id=self.case_id,
            status=self.state.status.value,
            stage=self.state.status.value,
            round=1,
            message_zh=message_zh,
        )

    @workflow.update
    async def refer_alert(self, cmd: ReferAlert) -> DecisionReceipt:
        self.state.status = AlertStatus.REFERRED
        self.state.referred_by = cmd.actor.login
        self.record(
            "staff",
            cmd.actor.login,
            "alert.referred",
            "已移交技能鉴定部门核查" + (f"：{cmd.note}" if cmd.note else ""),
        )
        await self.audit(cmd.actor, "skill_alert.referred", {"note": cmd.note})
        await self.project()
        return self._receipt("已移交技能鉴定部门")

    @refer_alert.validator
    def _validate_refer(self, cmd: ReferAlert) -> None:
        if self.state.status != AlertStatus.OPEN:
            raise refuse("alert.stage", "该预警已移交或已办结")
        self._check_staff(cmd.actor, "移交预警")

    @workflow.update
    async def appraisal_response(self, cmd: AppraisalResponse) -> DecisionReceipt:
        self._response = cmd
        await workflow.wait_condition(lambda: self.state.status != AlertStatus.REFERRED)
        return self._receipt(ALERT_STATUS_LABELS[self.state.status])

    @appraisal_response.validator
    def _validate_response(self, cmd: AppraisalResponse) -> None:
        if self.state.status != AlertStatus.REFERRED or self._response is not None:
            raise refuse("alert.stage", "只有已移交技能鉴定部门的预警可以登记核查结论")
        self._check_staff(cmd.actor, "登记核查结论")


WORKFLOWS = [SkillAlertScanWorkflow, SkillAlertWorkflow]
