"""The stop-reason dispute (停保原因争议), notice item 5, as one durable workflow per dispute.

Lifecycle: intake (employer website or counter; documents linked by hash) → the record system's
current reason and the requested code's meaning, read by activity → initial, second and final
review (``workflows/review_levels.py``), each level with its own working-day limit, reminder and
escalation → on final approval, the change in the insurance record system; if the record system
refuses (``record.locked``), a ticket on the demand platform for an operations engineer, whose
outcome arrives as a Signal from the API's callback, with a periodic re-check by activity in case
the callback is lost → with the reason changed, the person's open benefit claim is signalled to
re-check eligibility (``BenefitClaimWorkflow.stop_reason_changed``), so they are paid without
applying twice; with no open claim, they are told to apply.

Staff decide through one Update per level, whose validator checks level, role, regional
delegation (``dispute_reviewer_regions``) and separation of duties; a refused decision never
touches history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.claim import ClaimActivities, LinkDocuments
    from activities.dispute import (
        ChangeRequest,
        ClaimLookup,
        DisputeActivities,
        StopReasonQuery,
        TicketRequest,
    )
    from models.case import CaseProjection, DecisionReceipt
    from models.claim import StopReasonChangedEvent
    from models.dispute import (
        DISPUTE_STATUS_LABELS,
        DOCUMENT_KIND_LABELS,
        TERMINAL_DISPUTE_STATUSES,
        DisputeInput,
        DisputeResult,
        DisputeState,
        DisputeStatus,
        ReasonChange,
        StopReasonView,
        TicketOutcome,
    )
    from models.enums import CaseType, Channel
    from models.review import ReviewChainState, ReviewCommand
    from models.staff import StaffActor
    from policy.identity import mask_resident_id
    from policy.regions import DisputeLevel, dispute_reviewer_regions
    from workflows.base import OPS_REGION, UnblockableCase
    from workflows.benefit_claim import BenefitClaimWorkflow
    from workflows.review_levels import MultiLevelReview, Outcome

NOUN = "停保原因争议"


def _authority(case_region: str, level: str) -> frozenset[str]:
    return dispute_reviewer_regions(case_region, cast(DisputeLevel, level))


def _system_actor() -> StaffActor:
    return StaffActor(login="uiflow", name="系统", roles=[], region_code=OPS_REGION)


@workflow.defn
class StopReasonDisputeWorkflow(UnblockableCase):
    @workflow.init
    def __init__(self, inp: DisputeInput) -> None:
        self._init_base()
        self.inp = inp
        self.case_id = inp.case_id
        app = inp.application
        self.region_code = app.region_code
        self.review = MultiLevelReview(
            self,
            inp.timings.levels,
            case_region=app.region_code,
            applicant_key=inp.applicant_key,
            authority=_authority,
            case_noun_zh=NOUN,
            audit_prefix="dispute.review",
            excluded_logins=() if inp.channel == Channel.EMPLOYER_WEBSITE else (inp.submitted_by.login,),
        )
        self.state = DisputeState(
            case_id=inp.case_id,
            status=DisputeStatus.UNDER_REVIEW,
            stage="intake",
            region_code=app.region_code,
            channel=inp.channel,
            received_at=inp.received_at,
            submitted_by=inp.submitted_by.login,
            applicant_name=app.name,
            applicant_id_masked=mask_resident_id(app.id_number),
            employer_credit_code=app.employer_credit_code,
            employer_name=inp.employer_name,
            requested_reason=StopReasonView(code=app.requested_reason_code, label=app.requested_reason_code),
            statement=app.statement,
            documents=list(app.documents),
            review=self.review.state,
        )
        self._ticket_outcome: TicketOutcome | None = None

    # --- run -----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: DisputeInput) -> DisputeResult:
        self.state.timeline = self.timeline
        await self._intake()
        if self.state.status == DisputeStatus.UNDER_REVIEW:
            outcome = await self.review.run(self._review_finished)
            if outcome == "approved":
                await self._apply_change()
                if self.state.change is not None:
                    await self._resume_claim()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return DisputeResult(
            case_id=self.case_id,
            status=self.state.status,
            change=self.state.change,
            ticket_id=self.state.ticket.ticket_id if self.state.ticket else None,
            claim_id=self.state.claim_id,
            close_reason=self.state.close_reason,
        )

    # --- intake ----------------------------------------------------------------------------------------

    async def _intake(self) -> None:
        inp, app = self.inp, self.inp.application
        by = inp.submitted_by
        employer = inp.channel == Channel.EMPLOYER_WEBSITE
        docs = [{"id": d.id, "kind": d.kind, "sha256": d.sha256} for d in app.documents]
        self.record(
            "employer" if employer else "staff",
            by.login,
            "dispute.received",
            "收到停保原因争议申请（"
            + ("用人单位网上申请" if employer else f"窗口受理（{by.login}）")
            + f"），材料{len(docs)}份",
            channel=inp.channel.value,
            documents=docs,
        )
        await self.audit(
            by,
            "dispute.received",
            {
                "channel": inp.channel.value,
                "employer": app.employer_credit_code,
                "requested_reason": app.requested_reason_code,
                "documents": docs,
            },
        )
        if app.documents:
            await self.act(
                ClaimActivities.link_documents, LinkDocuments(case_id=self.case_id, documents=app.documents)
            )
        snap = await self.act(
            DisputeActivities.read_stop_reason,
            StopReasonQuery(
                id_number=app.id_number,
                employer_credit_code=app.employer_credit_code,
                requested_code=app.requested_reason_code,
            ),
        )
        self.state.requested_reason = snap.requested
        self.state.current_reason = snap.current
        if not snap.found:
            await self._close(
                "no_stop_record",
                "参保记录系统中未查询到该人员在该单位的停保记录，争议申请办结",
                "未查询到您在该单位的停保记录，无法办理停保原因变更。如有疑问请到经办机构窗口咨询。",
            )
            return
        if not snap.requested_known:
            await self._close(
                "requested_reason_unknown",
                f"申请变更的停保原因代码“{app.requested_reason_code}”不在参保记录系统代码表中，争议申请办结",
                "申请变更的停保原因不正确，请核对后重新申请。",
            )
            return
        current = snap.current
        assert current is not None
        kind = {True: "非本人意愿中断就业", False: "本人意愿中断就业", None: "未知"}
        self.record(
            "external",
            "insurance-record",
            "stop_reason.read",
            f"参保记录现停保原因：{current.label}（{kind[current.involuntary]}）；"
            f"申请变更为：{snap.requested.label}（{kind[snap.requested.involuntary]}）",
            current=current.code,
            requested=snap.requested.code,
        )
        self.state.stage = "review"
        await self.project()
        await self._tell_applicant(
            "dispute_received",
            f"您的停保原因变更申请已受理（{self.case_id}），将经初审、复审、终审，办理结果将短信告知。",
        )

    # --- review outcome --------------------------------------------------------------------------------

    async def _review_finished(self, outcome: Outcome) -> None:
        """Runs before the deciding Update returns, so the reviewer sees the case's new status."""
        last = self.review.last_decision
        assert last is not None
        if outcome == "rejected":
            self.state.status = DisputeStatus.REJECTED
            self.state.stage = "closed"
            self.state.close_reason = "rejected"
            self.record(
                "system", "uiflow", "dispute.rejected", f"争议申请经{last.level_label}不予通过，案件办结"
            )
            await self.project()
            await self._tell_applicant(
                "dispute_rejected",
                f"您的停保原因变更申请经{last.level_label}未通过。理由：{last.reason}。"
                "如有劳动人事争议仲裁裁决书或人民法院文书，可携带到经办机构窗口重新申请。",
            )
            return
        self.state.status = DisputeStatus.APPLYING_CHANGE
        self.state.stage = "applying_change"
        self.record("system", "uiflow", "dispute.approved", "终审通过，正在变更参保记录中的停保原因")
        await self.project()

    # --- applying the change -------------------------------------------------------------------------

    async def _apply_change(self) -> None:
        app = self.inp.application
        final = self.review.final_approver()
        assert final is not None
        requested = self.state.requested_reason
        out = await self.act(
            DisputeActivities.change_stop_reason,
            ChangeRequest(
                case_id=self.case_id,
                id_number=app.id_number,
                employer_credit_code=app.employer_credit_code,
                code=requested.code,
                basis_zh=self._basis(),
                operator_id=final.by,
            ),
        )
        if out.changed:
            assert out.record is not None
            await self._changed(
                ReasonChange(
                    via="front_end",
                    old=self.state.current_reason,
                    new=out.record,
                    changed_by=final.by,
                    at=workflow.now(),
                )
            )
            return
        self.record(
            "external",
            "insurance-record",
            "stop_reason.change_refused",
            f"参保记录系统拒绝前台变更：{out.refusal_message}",
            code=out.refusal_code,
        )
        await self.audit(
            _system_actor(),
            "dispute.change_refused",
            {"code": out.refusal_code, "requested_reason": requested.code},
        )
        await self._ticket(final.by)

    def _basis(self) -> str:
        kinds = sorted({DOCUMENT_KIND_LABELS.get(d.kind, d.kind) for d in self.inp.application.documents})
        text = f"停保原因争议{self.case_id}经初审、复审、终审通过；依据：{'、'.join(kinds) or '申请人说明'}"
        return text[:500]

    async def _ticket(self, submitted_by: str) -> None:
        app = self.inp.application
        requested = self.state.requested_reason
        current = self.state.current_reason
        ticket = await self.act(
            DisputeActivities.open_ticket,
            TicketRequest(
                case_id=self.case_id,
                id_number=app.id_number,
                employer_credit_code=app.employer_credit_code,
                requested_code=requested.code,
                title_zh=f"停保原因变更（{NOUN}{self.case_id}）",
                description_zh=(
                    f"参保记录已锁定，前台无法变更。经初审、复审、终审，停保原因应由"
                    f"“{current.label if current else '—'}”变更为“{requested.label}”。{self._basis()}"
                ),
                submitted_by=submitted_by,
                idempotency_key=f"{self.case_id}:ticket",
            ),
        )
        self.state.ticket = ticket
        self.state.status = DisputeStatus.AWAITING_TICKET
        self.state.stage = "awaiting_ticket"
        self.record(
            "system",
            "uiflow",
            "ticket.opened",
            f"已在金保工程软件需求平台提交运维工单{ticket.ticket_id}，申请后台变更停保原因",
            ticket_id=ticket.ticket_id,
        )
        await self.audit(
            _system_actor(),
            "dispute.ticket_opened",
            {"ticket_id": ticket.ticket_id, "requested_reason": requested.code, "submitted_by": submitted_by},
        )
        await self.project()
        await self.notify_staff(
            "ops_engineer",
            OPS_REGION,
            "ticket_opened",
            f"{NOUN}{self.case_id}已提交运维工单{ticket.ticket_id}，请在后台变更停保原因。",
        )

        recheck = timedelta(hours=self.inp.timings.ticket_recheck_hours)
        outcome: TicketOutcome | None = None
        while outcome is None:
            try:
                await workflow.wait_condition(lambda: self._ticket_outcome is not None, timeout=recheck)
                outcome = self._ticket_outcome
                ticket.via = "callback"
            except TimeoutError:
                view = await self.act(DisputeActivities.get_ticket, ticket.ticket_id)
                ticket.rechecks += 1
                if view.status != "open":
                    outcome = TicketOutcome(
                        ticket_id=view.ticket_id,
                        status=view.status,
                        resolution=view.resolution,
                        engineer=view.engineer,
                        resolved_at=view.resolved_at,
                    )
                    ticket.via = "recheck"
        assert outcome is not None
        ticket.status = outcome.status
        ticket.engineer = outcome.engineer
        ticket.resolution = outcome.resolution
        ticket.resolved_at = outcome.resolved_at or workflow.now()
        engineer = outcome.engineer or "运维工程师"
        done = outcome.status == "resolved"
        self.record(
            "external",
            engineer,
            f"ticket.{outcome.status}",
            f"运维工单{ticket.ticket_id}已{'办结' if done else '退回'}（{engineer}）："
            f"{outcome.resolution or ''}" + ("（平台回调）" if ticket.via == "callback" else "（定时复查）"),
            ticket_id=ticket.ticket_id,
            via=ticket.via,
        )
        await self.audit(
            _system_actor(),
            "dispute.ticket_closed",
            {
                "ticket_id": ticket.ticket_id,
                "decision": outcome.status,
                "engineer": outcome.engineer,
                "resolution": outcome.resolution,
                "via": ticket.via,
            },
        )
        if not done:
            await self._change_failed(
                "ticket_rejected", f"运维工单被退回：{outcome.resolution or '未说明理由'}"
            )
            return
        # Trust the record, not the ticket: read the reason back before telling anyone it changed.
        snap = await self.act(
            DisputeActivities.read_stop_reason,
            StopReasonQuery(
                id_number=app.id_number,
                employer_credit_code=app.employer_credit_code,
                requested_code=requested.code,
            ),
        )
        if snap.current is None or snap.current.code != requested.code:
            await self._change_failed(
                "ticket_resolved_unchanged", "运维工单已办结，但参保记录中的停保原因仍未变更"
            )
            return
        await self._changed(
            ReasonChange(
                via="ops_ticket",
                old=current,
                new=snap.current,
                changed_by=engineer,
                ticket_id=ticket.ticket_id,
                at=workflow.now(),
            )
        )

    async def _changed(self, change: ReasonChange) -> None:
        self.state.change = change
        self.state.current_reason = change.new
        how = "前台变更" if change.via == "front_end" else f"运维工单{change.ticket_id}后台变更"
        self.record(
            "staff" if change.via == "front_end" else "external",
            change.changed_by,
            "stop_reason.changed",
            f"停保原因已由“{change.old.label if change.old else '—'}”变更为“{change.new.label}”"
            f"（{how}，变更人：{change.changed_by}）",
            old=change.old.code if change.old else None,
            new=change.new.code,
            via=change.via,
            ticket_id=change.ticket_id,
        )
        await self.audit(
            _system_actor(),
            "dispute.reason_changed",
            {
                "old": change.old.code if change.old else None,
                "new": change.new.code,
                "via": change.via,
                "changed_by": change.changed_by,
                "ticket_id": change.ticket_id,
            },
        )
        await self.project()

    async def _change_failed(self, reason: str, text_zh: str) -> None:
        self.state.status = DisputeStatus.CHANGE_FAILED
        self.state.stage = "closed"
        self.state.close_reason = reason
        self.record("system", "uiflow", "dispute.change_failed", text_zh, reason=reason)
        await self.project()
        await self.notify_staff(
            "supervisor",
            self.region_code,
            "dispute_change_failed",
            f"{NOUN}{self.case_id}：{text_zh}，请督办。",
        )
        await self._tell_applicant(
            "dispute_change_failed",
            "您的停保原因变更申请已审核通过，但参保记录暂未能变更，经办机构将与您联系。",
        )

    # --- paying the claim ------------------------------------------------------------------------------

    async def _resume_claim(self) -> None:
        change = self.state.change
        assert change is not None
        found = await self.act(
            DisputeActivities.find_open_claim, ClaimLookup(applicant_key=self.inp.applicant_key)
        )
        claim_id = found.case_id
        if claim_id is not None:
            try:
                await workflow.get_external_workflow_handle(claim_id).signal(
                    BenefitClaimWorkflow.stop_reason_changed,
                    StopReasonChangedEvent(
                        dispute_id=self.case_id, new_code=change.new.code, new_label=change.new.label
                    ),
                )
            except FailureError as e:
                # The claim ended between the lookup and the signal: the person applies afresh.
                self.record(
                    "system", "uiflow", "claim.signal_failed", f"未能通知申领案件{claim_id}：{e.message}"
                )
                claim_id = None
        if claim_id is not None:
            self.state.claim_id = claim_id
            self.state.claim_action = "signalled"
            self.record(
                "system",
                "uiflow",
                "claim.resumed",
                f"已通知申领案件{claim_id}按变更后的停保原因重新审核，申请人无需再次申请",
                claim_id=claim_id,
            )
            text = "您的停保原因已变更，您的失业保险金申领将自动重新审核，无需再次申请，审核结果将短信告知。"
        else:
            self.state.claim_action = "apply_now"
            self.record(
                "system", "uiflow", "claim.none_open", "未查到未办结的失业保险金申领，已告知申请人可申领"
            )
            text = "您的停保原因已变更，如符合条件可通过网上办事大厅或到服务大厅窗口申领失业保险金。"
        await self.audit(
            _system_actor(),
            "dispute.claim_" + ("resumed" if claim_id else "apply_now"),
            {"claim_id": claim_id, "new_reason": change.new.code},
        )
        self.state.status = DisputeStatus.CHANGED
        self.state.stage = "closed"
        await self.project()
        await self._tell_applicant("dispute_changed", f"停保原因已变更为“{change.new.label}”。{text}")

    # --- helpers ---------------------------------------------------------------------------------------

    async def _close(self, reason: str, text_zh: str, applicant_text: str) -> None:
        self.state.status = DisputeStatus.CLOSED
        self.state.stage = "closed"
        self.state.close_reason = reason
        self.review.state.outcome = "rejected"
        self.record("system", "uiflow", "dispute.closed", text_zh, reason=reason)
        await self.audit(_system_actor(), "dispute.closed", {"reason": reason})
        await self.project()
        await self._tell_applicant("dispute_closed", applicant_text)

    async def _tell_applicant(self, template: str, text_zh: str) -> None:
        app = self.inp.application
        await self.notify_person(app.phone, app.name, template, text_zh)

    # --- projection ------------------------------------------------------------------------------------

    def projection(self) -> CaseProjection:
        s = self.state
        chain: ReviewChainState = s.review
        level = chain.open_level
        terminal = s.status in TERMINAL_DISPUTE_STATUSES
        summary: dict[str, Any] = {
            "status_label": DISPUTE_STATUS_LABELS[s.status],
            "level": level.key if level else None,
            "requested_reason": s.requested_reason.code,
            "current_reason": s.current_reason.code if s.current_reason else None,
            "reviews": [
                {
                    "seq": d.seq,
                    "level": d.level,
                    "pass": d.pass_no,
                    "by": d.by,
                    "region": d.by_region,
                    "decision": d.action.value,
                    "at": d.at.isoformat(),
                }
                for d in chain.decisions
            ],
            "documents": [{"id": d.id, "kind": d.kind, "sha256": d.sha256} for d in s.documents],
        }
        if s.ticket is not None:
            summary["ticket"] = {
                "id": s.ticket.ticket_id,
                "status": s.ticket.status,
                "engineer": s.ticket.engineer,
                "via": s.ticket.via,
            }
        if s.change is not None:
            summary["change"] = {
                "via": s.change.via,
                "old": s.change.old.code if s.change.old else None,
                "new": s.change.new.code,
                "by": s.change.changed_by,
            }
        if s.claim_action:
            summary["claim"] = {"id": s.claim_id, "action": s.claim_action}
        if s.close_reason:
            summary["close_reason"] = s.close_reason
        last = chain.decisions[-1] if chain.decisions else None
        return CaseProjection(
            case_id=self.case_id,
            case_type=CaseType.STOP_REASON_DISPUTE,
            status=s.status.value,
            stage=self._stage(),
            region_code=s.region_code,
            applicant_key=self.inp.applicant_key,
            applicant_name=s.applicant_name,
            applicant_id_masked=s.applicant_id_masked,
            applicant_id_number=self.inp.application.id_number,
            employer_credit_code=s.employer_credit_code,
            channel=s.channel.value,
            received_at=s.received_at,
            deadline=level.deadline.deadline if level and level.deadline else None,
            overdue=chain.overdue,
            escalated=chain.escalated,
            rounds=len(chain.decisions),
            summary=summary,
            decided_at=last.at if last and chain.outcome != "pending" else None,
            closed_at=workflow.now() if terminal else None,
            version=0,
        )

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        return self.review.deadline_attributes()

    # --- queries, updates, signals ---------------------------------------------------------------------

    def _stage(self) -> str:
        """While a level is open the stage is that level (``initial_review`` …); otherwise the
        dispute's own stage."""
        level = self.state.review.open_level
        return f"{level.key}_review" if level is not None else self.state.stage

    def processing(self) -> bool:
        return self.review.desk.busy

    @workflow.query
    def state_query(self) -> DisputeState:
        return self.state.model_copy(
            update={"stage": self._stage(), "blocked": self.blocked, "review": self.review.state}
        )

    async def _decide(self, key: str, cmd: ReviewCommand) -> DecisionReceipt:
        return await self.review.decide_receipt(key, cmd, lambda: self.state.status.value, self._stage)

    @workflow.update
    async def initial_review(self, cmd: ReviewCommand) -> DecisionReceipt:
        return await self._decide("initial", cmd)

    @initial_review.validator
    def _validate_initial(self, cmd: ReviewCommand) -> None:
        self.review.validate("initial", cmd)

    @workflow.update
    async def second_review(self, cmd: ReviewCommand) -> DecisionReceipt:
        return await self._decide("second", cmd)

    @second_review.validator
    def _validate_second(self, cmd: ReviewCommand) -> None:
        self.review.validate("second", cmd)

    @workflow.update
    async def final_review(self, cmd: ReviewCommand) -> DecisionReceipt:
        return await self._decide("final", cmd)

    @final_review.validator
    def _validate_final(self, cmd: ReviewCommand) -> None:
        self.review.validate("final", cmd)

    @workflow.signal
    def ticket_resolved(self, ev: TicketOutcome) -> None:
        """From the API's verified callback; an outcome for another ticket is ignored."""
        t = self.state.ticket
        if t is not None and t.ticket_id == ev.ticket_id and self._ticket_outcome is None:
            self._ticket_outcome = ev


WORKFLOWS = [StopReasonDisputeWorkflow]
