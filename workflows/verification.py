"""The verification case (核查), notice item 7, as one durable workflow per case.

Lifecycle: opened by a scan's hits or by a confirmed claim's referral (the parties: people,
employers, intermediaries, each with its linked claims and periods) → more hits may join while it
is open (Signal ``add_hits``) → the 风险稽核员 proposes an outcome with evidence, the 业务主管
approves it (two levels on the review kit, ``workflows/review_levels.py``: ``propose`` then
``approve``; send-back returns the proposal to the inspector) → the approved outcome is carried out,
audited and notified: cleared; or recovery (the exact months and amounts from the payment ledger,
the running periods stopped by their own ``stop_event`` Signal, a repayment schedule), a fine per
person at the chosen multiple (社保法 Art. 88) and a referral to the police (the file sent) → with
a recovery, repayments are recorded (Update ``record_repayment``) until nothing is outstanding.

Decisions go through the kit's desks, so they are race-proof and refused with stable codes
(``review.*``) in validators that leave no history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.claim import ClaimActivities, LinkDocuments
    from activities.verification import VerificationActivities
    from models.benefit import StopEvent, StopReason
    from models.case import CaseProjection, DecisionReceipt, Notification, local_date
    from models.enums import CaseType, Role
    from models.review import ReviewAction, ReviewCommand
    from models.staff import StaffActor
    from models.verification import (
        APPROVE,
        PARTY_KIND_LABELS,
        PROPOSE,
        TERMINAL_VERIFICATION_STATUSES,
        Fine,
        FineRequest,
        HitBatch,
        PoliceReferral,
        Proposal,
        ProposeCommand,
        RecordHits,
        Recovery,
        RecoveryLedgerRequest,
        Repayment,
        RepaymentCommand,
        RepaymentPlanRequest,
        SettleHits,
        VerificationInput,
        VerificationParty,
        VerificationResult,
        VerificationStage,
        VerificationState,
        VerificationStatus,
    )
    from policy.money import format_amount
    from workflows.base import OPS_REGION, UnblockableCase, refuse, region_path
    from workflows.benefit_period import BenefitPeriodWorkflow
    from workflows.review_levels import DecisionDesk, MultiLevelReview, Outcome

NOUN = "核查案件"
MIN_FINDING = 4
FINE_MULTIPLE_BOUNDS = (Decimal("2"), Decimal("5"))  # first-line check; the dated parameters decide


def _authority(case_region: str, _level: str) -> list[str]:
    """Inspectors and supervisors of the case's district and of the league and region above it."""
    return region_path(case_region)


def _system_actor() -> StaffActor:
    return StaffActor(login="uiflow", name="系统", roles=[], region_code=OPS_REGION)


def yuan(v: Decimal) -> str:
    return f"{format_amount(v)}元"


@workflow.defn
class VerificationWorkflow(UnblockableCase):
    @workflow.init
    def __init__(self, inp: VerificationInput) -> None:
        self._init_base()
        self.inp = inp
        self.case_id = inp.case_id
        self.region_code = inp.region_code
        self.review = MultiLevelReview(
            self,
            inp.timings.levels,
            case_region=inp.region_code,
            applicant_key="",
            authority=_authority,
            case_noun_zh=NOUN,
            audit_prefix="verification.review",
        )
        self.state = VerificationState(
            case_id=inp.case_id,
            status=VerificationStatus.OPEN,
            stage=VerificationStage.VERIFICATION,
            region_code=inp.region_code,
            reason_zh=inp.reason_zh,
            source_claim_id=inp.source_claim_id,
            review=self.review.state,
        )
        self._phones: dict[str, str] = {}
        self.repayments: DecisionDesk[Repayment] = DecisionDesk(
            case_noun_zh=NOUN, case_region=inp.region_code, applicant_key="", authority=_authority
        )

    # --- run -----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: VerificationInput) -> VerificationResult:
        self.state.timeline = self.timeline
        self.record(
            "staff" if inp.opened_by != "risk-scan" else "system",
            inp.opened_by,
            "verification.opened",
            f"立案核查：{inp.reason_zh}",
            source_claim_id=inp.source_claim_id,
        )
        await self._join(inp.hits)
        await self.audit(
            _system_actor(),
            "verification.opened",
            {
                "opened_by": inp.opened_by,
                "reason": inp.reason_zh,
                "rules": sorted({h.rule for h in inp.hits.hits}),
                "parties": [f"{p.kind}:{p.key}" for p in inp.hits.parties],
            },
        )
        outcome = await self.review.run(self._review_finished)
        if outcome == "approved":
            await self._carry_out()
        await workflow.wait_condition(workflow.all_handlers_finished)
        rec = self.state.recovery
        return VerificationResult(
            case_id=self.case_id,
            status=self.state.status,
            recovered=rec.repaid if rec else Decimal("0"),
            fines=sum((f.amount for f in self.state.fines), Decimal("0")),
            referred_to_police=self.state.police is not None,
        )

    async def _join(self, batch: HitBatch) -> None:
        """Hits and parties join the case (a party already in it gains the new linked cases); the
        hits are written for the rules' own report."""
        first = len(self.state.hits)
        for p in batch.parties:
            if p.phone:
                self._phones[p.key] = p.phone
            known = next((x for x in self.state.parties if x.kind == p.kind and x.key == p.key), None)
            if known is None:
                self.state.parties.append(p.model_copy(update={"phone": None}))
                continue
            known.claim_ids += [c for c in p.claim_ids if c not in known.claim_ids]
            known.period_ids += [c for c in p.period_ids if c not in known.period_ids]
        for h in batch.hits:
            self.state.hits.append(h)
            self.record(
                "system",
                "risk-scan",
                "verification.hit",
                f"风险线索（规则{h.rule}，版本{h.rule_version}）：{h.explanation_zh}",
                rule=h.rule,
                rule_version=h.rule_version,
                figures=h.figures,
            )
        if batch.hits:
            await self.act(
                VerificationActivities.record_hits,
                RecordHits(case_id=self.case_id, first_seq=first + 1, hits=batch.hits),
            )

    # --- outcome ---------------------------------------------------------------------------------------

    async def _review_finished(self, outcome: Outcome) -> None:
        """Runs before the supervisor's Update returns, so the supervisor sees the new status."""
        last = self.review.last_decision
        assert last is not None
        if outcome == "rejected":
            self.state.status = VerificationStatus.CLOSED
            self.state.stage = VerificationStage.CLOSED
            self.state.close_reason = "not_approved"
            self.record(
                "system",
                "uiflow",
                "verification.closed",
                f"处理意见经{last.level_label}不予批准，核查案件办结",
            )
            await self.project()
            await self._settle("cleared")
            return
        p = self.state.proposal
        assert p is not None
        self.record(
            "system",
            "uiflow",
            "verification.approved",
            "业务主管批准处理意见：" + ("排除" if p.outcome == "cleared" else "予以处理") + "，正在执行",
        )
        await self.project()

    async def _carry_out(self) -> None:
        p = self.state.proposal
        approver = self.review.final_approver()
        assert p is not None and approver is not None
        if p.evidence:
            await self.act(
                ClaimActivities.link_documents, LinkDocuments(case_id=self.case_id, documents=p.evidence)
            )
        if p.outcome == "cleared":
            self.state.status = VerificationStatus.CLEARED
            self.state.stage = VerificationStage.CLOSED
            self.state.close_reason = "cleared"
            self.record("staff", approver.by, "verification.cleared", f"核查结论：排除。{p.finding}")
            await self.audit(
                _system_actor(),
                "verification.cleared",
                {
                    "finding": p.finding,
                    "evidence": [d.sha256 for d in p.evidence],
                    "approved_by": approver.by,
                },
            )
            await self._settle("cleared")
            await self.project()
            await self._notify_persons(
                "verification_cleared",
                lambda _party: "经核查，未发现您存在违规领取失业保险待遇的情形，核查已办结。",
            )
            return
        if p.recovery:
            await self._recover(p)
        if p.fine_multiple is not None:
            await self._fine(p)
        if p.police:
            assert p.police_file is not None
            self.state.police = PoliceReferral(
                unit=p.police_unit, file=p.police_file, sent_at=workflow.now(), by=approver.by
            )
            self.record(
                "staff",
                approver.by,
                "verification.police_referral",
                f"涉嫌欺诈骗取社会保险待遇，案件材料已移送{p.police_unit}",
                file=p.police_file.sha256,
            )
            await self.act(
                ClaimActivities.link_documents, LinkDocuments(case_id=self.case_id, documents=[p.police_file])
            )
        await self.audit(
            _system_actor(),
            "verification.sanctioned",
            {
                "finding": p.finding,
                "evidence": [d.sha256 for d in p.evidence],
                "recovery_total": str(self.state.recovery.total) if self.state.recovery else None,
                "recovery_months": [
                    [m.case_id, m.month, str(m.amount)]
                    for m in (self.state.recovery.months if self.state.recovery else [])
                ],
                "fines": [[f.party, str(f.multiple), str(f.amount)] for f in self.state.fines],
                "fine_justification": p.fine_justification,
                "police": {"unit": p.police_unit, "file": p.police_file.sha256} if p.police_file else None,
                "approved_by": approver.by,
            },
        )
        await self._settle("confirmed")
        await self.project()
        await self._notify_persons("verification_decision", self._notice_for)
        rec = self.state.recovery
        if rec is not None and rec.outstanding > 0:
            await self._collect(rec)
            await self._settle("confirmed")
        self.state.status = VerificationStatus.SANCTIONED
        self.state.stage = VerificationStage.CLOSED
        self.state.close_reason = "sanctioned"
        self.record("system", "uiflow", "verification.closed", "处理决定已执行完毕，核查案件办结")
        await self.project()

    async def _recover(self, p: Proposal) -> None:
        periods = [pid for party in self.state.parties for pid in party.period_ids]
        ledger = await self.act(
            VerificationActivities.recovery_ledger, RecoveryLedgerRequest(period_ids=periods)
        )
        today = local_date(workflow.now())
        stopped: list[str] = []
        for pid in periods:
            try:
                await workflow.get_external_workflow_handle(pid).signal(
                    BenefitPeriodWorkflow.stop_event,
                    StopEvent(
                        reason=StopReason.OTHER_STATUTORY,
                        on=today,
                        source="risk-check",
                        reference=self.case_id,
                    ),
                )
                stopped.append(pid)
            except FailureError as e:
                self.record("system", "uiflow", "period.signal_failed", f"未能停发{pid}：{e.message}")
        plan = await self.act(
            VerificationActivities.repayment_plan,
            RepaymentPlanRequest(
                total=ledger.total, installments=p.installments, start=today + timedelta(days=30)
            ),
        )
        self.state.recovery = Recovery(
            months=ledger.months, total=ledger.total, plan=plan, stopped_periods=stopped
        )
        months = "；".join(f"{m.case_id} {m.month} {yuan(m.amount)}" for m in ledger.months) or "无已发放月份"
        self.record(
            "system",
            "uiflow",
            "verification.recovery",
            f"责令退回已领取的失业保险金共{yuan(ledger.total)}（{months}），分{len(plan)}期退回；已停发{len(stopped)}个发放案件",
            total=str(ledger.total),
            months=len(ledger.months),
            stopped=stopped,
        )

    async def _fine(self, p: Proposal) -> None:
        assert p.fine_multiple is not None
        rec = self.state.recovery
        by_period: dict[str, Decimal] = {}
        for m in rec.months if rec else []:
            by_period[m.case_id] = by_period.get(m.case_id, Decimal("0")) + m.amount
        today = local_date(workflow.now())
        for party in self.state.parties:
            if party.kind != "person":
                continue
            obtained = sum((by_period.get(pid, Decimal("0")) for pid in party.period_ids), Decimal("0"))
            if obtained <= 0:
                continue
            fine: Fine = await self.act(
                VerificationActivities.fine_for,
                FineRequest(party=party.key, obtained=obtained, multiple=p.fine_multiple, as_of=today),
            )
            fine.justification = p.fine_justification
            self.state.fines.append(fine)
        total = sum((f.amount for f in self.state.fines), Decimal("0"))
        self.record(
            "system",
            "uiflow",
            "verification.fine",
            f"处骗取金额{format_amount(p.fine_multiple)}倍罚款，{len(self.state.fines)}人合计{yuan(total)}"
            f"（社会保险法第八十八条）。倍数理由：{p.fine_justification}",
            multiple=str(p.fine_multiple),
            total=str(total),
        )

    def _notice_for(self, party: VerificationParty) -> str:
        rec = self.state.recovery
        parts = ["经核查，您存在以欺诈等手段骗取失业保险待遇的情形。"]
        if rec is not None:
            mine = [m for m in rec.months if m.case_id in party.period_ids]
            if mine:
                total = sum((m.amount for m in mine), Decimal("0"))
                months = "、".join(m.month for m in mine)
                parts.append(
                    f"依据社会保险法第八十八条，责令退回{months}领取的失业保险金共{yuan(total)}，失业保险金已停发。"
                )
        fine = next((f for f in self.state.fines if f.party == party.key), None)
        if fine is not None:
            parts.append(f"并处骗取金额{format_amount(fine.multiple)}倍罚款{yuan(fine.amount)}。")
        parts.append("如不服，可在收到本告知之日起六十日内申请行政复议或六个月内提起行政诉讼。")
        return "".join(parts)

    async def _notify_persons(self, template: str, text: Any) -> None:
        for party in self.state.parties:
            phone = self._phones.get(party.key)
            if party.kind != "person" or not phone:
                continue
            body = text(party)
            await self.notify(
                Notification(
                    case_id=self.case_id, audience="applicant", phone=phone, template=template, text_zh=body
                )
            )
        self.state.notices.append(template)
        self.record("system", "notifier", f"notice.{template}", "已向当事人发送核查处理告知")

    async def _collect(self, rec: Recovery) -> None:
        """Repayments recorded until nothing is outstanding (each audited)."""
        self.state.status = VerificationStatus.RECOVERING
        self.state.stage = VerificationStage.RECOVERY
        await self.project()
        while rec.outstanding > 0:
            await workflow.wait_condition(lambda: self.repayments.waiting)
            r, actor = await self.repayments.take()
            rec.repayments.append(r)
            await self.audit(
                actor,
                "verification.repayment",
                {
                    "amount": str(r.amount),
                    "paid_on": r.paid_on.isoformat(),
                    "receipt": r.receipt.sha256 if r.receipt else None,
                },
            )
            if r.receipt is not None:
                await self.act(
                    ClaimActivities.link_documents, LinkDocuments(case_id=self.case_id, documents=[r.receipt])
                )
            self.record(
                "staff",
                r.by,
                "verification.repayment",
                f"登记退回款项{yuan(r.amount)}（{r.paid_on.isoformat()}），尚欠{yuan(rec.outstanding)}",
                amount=str(r.amount),
            )
            await self.project()
            self.repayments.done()

    async def _settle(self, outcome: str) -> None:
        rec = self.state.recovery
        await self.act(
            VerificationActivities.settle_hits,
            SettleHits(
                case_id=self.case_id,
                outcome="confirmed" if outcome == "confirmed" else "cleared",
                recovered=rec.repaid if rec else Decimal("0"),
            ),
        )

    # --- projection ------------------------------------------------------------------------------------

    def _stage(self) -> str:
        level = self.state.review.open_level
        if level is not None:
            return VerificationStage.VERIFICATION if level.key == PROPOSE else VerificationStage.APPROVAL
        return self.state.stage

    def projection(self) -> CaseProjection:
        s = self.state
        chain = s.review
        level = chain.open_level
        terminal = s.status in TERMINAL_VERIFICATION_STATUSES
        summary: dict[str, Any] = {
            "status_label": s.status.label_zh,
            "reason": s.reason_zh,
            "rules": sorted({h.rule for h in s.hits}),
            "hits": len(s.hits),
            "parties": [
                {
                    "kind": p.kind,
                    "kind_label": PARTY_KIND_LABELS[p.kind],
                    "key": p.key,
                    "label": p.label,
                    "claims": p.claim_ids,
                    "periods": p.period_ids,
                }
                for p in s.parties
            ],
            "level": level.key if level else None,
        }
        if s.proposal is not None:
            summary["proposal"] = {
                "outcome": s.proposal.outcome,
                "finding": s.proposal.finding,
                "by": s.proposal.by,
            }
        if s.recovery is not None:
            summary["recovery"] = {
                "total": str(s.recovery.total),
                "repaid": str(s.recovery.repaid),
                "outstanding": str(s.recovery.outstanding),
                "months": len(s.recovery.months),
            }
        if s.fines:
            summary["fines"] = [
                {"party": f.party, "multiple": str(f.multiple), "amount": str(f.amount)} for f in s.fines
            ]
        if s.police is not None:
            summary["police"] = {"unit": s.police.unit, "file": s.police.file.sha256}
        if s.close_reason:
            summary["close_reason"] = s.close_reason
        employer = next((p.key for p in s.parties if p.kind == "employer"), None)
        return CaseProjection(
            case_id=self.case_id,
            case_type=CaseType.RISK_CHECK,
            status=s.status.value,
            stage=self._stage(),
            region_code=s.region_code,
            applicant_key="",
            applicant_name=f"{len(s.parties)}方当事人",
            employer_credit_code=employer,
            channel="risk_scan" if self.inp.opened_by == "risk-scan" else "referral",
            received_at=self.inp.opened_at,
            deadline=level.deadline.deadline if level and level.deadline else None,
            overdue=chain.overdue,
            escalated=chain.escalated,
            rounds=len(chain.decisions),
            risk_flagged=True,
            summary=summary,
            decided_at=chain.decisions[-1].at if chain.decisions and chain.outcome != "pending" else None,
            closed_at=workflow.now() if terminal else None,
            version=0,
        )

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        return self.review.deadline_attributes()

    # --- queries, updates, signals ---------------------------------------------------------------------

    def processing(self) -> bool:
        return self.review.desk.busy

    @workflow.query
    def state_query(self) -> VerificationState:
        return self.state.model_copy(
            update={"stage": self._stage(), "blocked": self.blocked, "review": self.review.state}
        )

    def _check_proposal(self, cmd: ProposeCommand) -> None:
        self.review.validate(PROPOSE, cmd)
        if cmd.action != ReviewAction.APPROVE:
            raise refuse("review.invalid", "稽核员提出处理意见时应选择“提出”")
        if len(cmd.finding.strip()) < MIN_FINDING:
            raise refuse("review.note_required", "请写明核查认定的事实及依据")
        if not cmd.evidence:
            raise refuse("review.invalid", "处理意见须附核查证据材料")
        if cmd.outcome == "cleared":
            if cmd.recovery or cmd.fine_multiple is not None or cmd.police:
                raise refuse("review.invalid", "排除的处理意见不能同时提出追回、罚款或移送")
            return
        if not (cmd.recovery or cmd.fine_multiple is not None or cmd.police):
            raise refuse("review.invalid", "予以处理时须至少选择责令退回、罚款或移送公安机关之一")
        if cmd.fine_multiple is not None:
            low, high = FINE_MULTIPLE_BOUNDS
            if not cmd.fine_multiple.is_finite() or not low <= cmd.fine_multiple <= high:
                raise refuse("review.invalid", "罚款倍数应在2倍至5倍之间（社会保险法第八十八条）")
            if not cmd.recovery:
                raise refuse("review.invalid", "罚款以骗取金额为基数，须同时责令退回")
            if len(cmd.fine_justification.strip()) < MIN_FINDING:
                raise refuse("review.reason_required", "请写明选择该罚款倍数的理由")
        if cmd.police and (cmd.police_file is None or len(cmd.police_unit.strip()) < 2):
            raise refuse("review.invalid", "移送公安机关须写明接收单位并附移送材料")

    @workflow.update
    async def propose(self, cmd: ProposeCommand) -> DecisionReceipt:
        self._check_proposal(cmd)
        self.state.proposal = Proposal(
            outcome=cmd.outcome,
            finding=cmd.finding.strip(),
            evidence=list(cmd.evidence),
            recovery=cmd.recovery,
            installments=cmd.installments,
            fine_multiple=cmd.fine_multiple,
            fine_justification=cmd.fine_justification.strip(),
            police=cmd.police,
            police_file=cmd.police_file,
            police_unit=cmd.police_unit.strip(),
            by=cmd.actor.login,
            at=workflow.now(),
        )
        return await self._decide(PROPOSE, cmd)

    @propose.validator
    def _validate_propose(self, cmd: ProposeCommand) -> None:
        self._check_proposal(cmd)

    @workflow.update
    async def approve_outcome(self, cmd: ReviewCommand) -> DecisionReceipt:
        return await self._decide(APPROVE, cmd)

    @approve_outcome.validator
    def _validate_approve_outcome(self, cmd: ReviewCommand) -> None:
        self.review.validate(APPROVE, cmd)

    async def _decide(self, key: str, cmd: ReviewCommand) -> DecisionReceipt:
        return await self.review.decide_receipt(key, cmd, lambda: self.state.status.value, self._stage)

    def _check_repayment(self, cmd: RepaymentCommand) -> None:
        rec = self.state.recovery
        self.repayments.check_free()
        if self.state.status != VerificationStatus.RECOVERING or rec is None:
            raise refuse("review.stage", "该核查案件当前不在追回阶段，不能登记退回款项")
        self.repayments.check_staff(
            cmd.actor, "repayment", "登记退回款项", Role.RISK_INSPECTOR, Role.SUPERVISOR
        )
        if cmd.amount > rec.outstanding:
            raise refuse("review.invalid", f"登记金额超过尚欠金额{yuan(rec.outstanding)}")

    @workflow.update
    async def record_repayment(self, cmd: RepaymentCommand) -> DecisionReceipt:
        self._check_repayment(cmd)
        r = Repayment(
            amount=cmd.amount, paid_on=cmd.paid_on, receipt=cmd.receipt, by=cmd.actor.login, at=workflow.now()
        )
        await self.repayments.processed(self.repayments.submit(r, cmd.actor))
        rec = self.state.recovery
        assert rec is not None
        return DecisionReceipt(
            case_id=self.case_id,
            status=self.state.status.value,
            stage=self._stage(),
            round=len(rec.repayments),
            message_zh=f"已登记退回{yuan(r.amount)}，尚欠{yuan(rec.outstanding)}",
        )

    @record_repayment.validator
    def _validate_record_repayment(self, cmd: RepaymentCommand) -> None:
        self._check_repayment(cmd)

    @workflow.signal
    async def add_hits(self, batch: HitBatch) -> None:
        """A scan's hits join the open case (before the outcome is approved); later ones are noted."""
        if self.state.review.outcome == "pending":
            await self._join(batch)
            await self.project()
        else:
            self.record(
                "system",
                "risk-scan",
                "verification.hit_late",
                f"核查已有结论，新命中{len(batch.hits)}条未并入",
            )


WORKFLOWS = [VerificationWorkflow]
