"""The case page and the staff actions on it, for benefit claims (and the read-model view of any
other case type).

Every action calls the API's own route function (``approve``, ``reject``, ``reapply`` ...), so
region checks, auditing and the workflow Update are exactly the API's. The console only decides
which forms to *offer* for the stage and role; the workflow validator decides what is accepted,
and its refusal is shown in the decision panel as it was worded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from api.console import disputes, service_requests, timeline
from api.console.forms import (
    ShowPage,
    act_or_show,
    attached_documents,
    doc_kinds,
    document_refs,
    text,
    upload_kinds,
)
from api.console.lists import staff_names
from api.console.web import (
    ConsoleRoute,
    csrf_protect,
    redirect,
    render,
    settings_of,
)
from api.deps import ensure_region, get_session, get_temporal
from api.errors import ApiError
from api.principals import (
    AnyCaseForStaff,
    Assigner,
    ClaimForAssigner,
    ClaimForClerk,
    ClaimForOperations,
    ClaimForReviewer,
    ClaimForStaff,
    Clerk,
    Operations,
    Principal,
    Reviewer,
    StaffUser,
)
from api.routes import claims as claims_api
from api.routes import documents as documents_api
from api.routes import notices as notices_api
from api.routes.cases import _item, _today
from api.temporal_ops import Decider
from core.person_search import SHORT_NO_RE
from models.claim import (
    CLAIM_STATUS_LABELS,
    REJECT_REASONS,
    ClaimStage,
    ClaimState,
    ClaimStatus,
    RejectReason,
)
from models.enums import CaseType, Role
from models.rules import RetirementCategory
from models.staff import StaffActor
from models.tables import CaseRecord, Document, Staff
from policy.regions import is_within

router = APIRouter(route_class=ConsoleRoute)

DONE_MESSAGES = {
    "approve": "已审核通过，已通知申请人",
    "reject": "已作出不予通过决定，并已告知申请人原因和处置方式",
    "request_documents": "已通知申请人补正材料；材料齐全后审核时限重新计算",
    "assign": "已分派审核人",
    "reapply": "已代申请人重新提出申请，系统将重新核验后进入审核",
    "supply": "已提交补正材料，审核时限重新计算",
    "unblock": "已解除阻塞，案件将重试自动处理",
    "category": "已确定原法定退休年龄类别，系统继续自动核验",
    "intake": "申请已受理。审核将在失业登记确认后按规定的工作日时限完成",
}
TRIGGER_LABELS = {
    "application": "首次申请",
    "reapplication": "重新申请",
    "stop_reason_changed": "停保原因变更",
    "documents_supplied": "补正材料",
}
DECISION_LABELS = {"approve": "审核通过", "reject": "不予通过", "request_documents": "要求补正材料"}
STAGE_LABELS = {
    "registration": "失业登记",
    "checks": "自动核验",
    "awaiting_category": "确定退休人员类别",
    "review": "审核",
    "awaiting_documents": "补正材料",
    "awaiting_reapplication": "等待重新申请",
    "approved": "已核准",
    "closed": "已办结",
    "initial_review": "初审",
    "second_review": "复审",
    "final_review": "终审",
    # the premium refund's stages (models/premium_refund.py) that the claim's do not name
    "paying": "待发放",
    "paid": "已返还",
}
ACTOR_KIND_LABELS = {
    "staff": "工作人员",
    "system": "系统",
    "applicant": "申请人",
    "external": "外部系统",
    "employer": "用人单位",
    "unknown": "操作人",
}


@dataclass
class ClaimActions:
    """Which forms the page offers (a convenience: the workflow validator still decides)."""

    review: bool = False
    claim_self: bool = False
    assign: bool = False
    reapply: bool = False
    supply: bool = False
    unblock: bool = False
    category: bool = False

    @property
    def any(self) -> bool:
        return any(
            (
                self.review,
                self.claim_self,
                self.assign,
                self.reapply,
                self.supply,
                self.unblock,
                self.category,
            )
        )


def claim_actions(staff: StaffActor, state: ClaimState, done: str) -> ClaimActions:
    s = state.status
    reviewer = staff.has(Role.REVIEWER)
    return ClaimActions(
        review=reviewer and s == ClaimStatus.UNDER_REVIEW and not state.processing,
        claim_self=reviewer and s == ClaimStatus.UNDER_REVIEW and state.assigned_to is None,
        assign=staff.has(Role.SUPERVISOR)
        and s in (ClaimStatus.UNDER_REVIEW, ClaimStatus.CHECKING, ClaimStatus.AWAITING_DOCUMENTS),
        reapply=staff.has(Role.INTAKE_CLERK) and s == ClaimStatus.REJECTED and done != "reapply",
        supply=staff.has(Role.INTAKE_CLERK) and s == ClaimStatus.AWAITING_DOCUMENTS and done != "supply",
        unblock=staff.has(Role.OPS_ENGINEER) and bool(state.blocked),
        category=staff.has(Role.INTAKE_CLERK)
        and state.stage == ClaimStage.AWAITING_CATEGORY
        and done != "category",
    )


#: Stages of a claim in checking that wait for a person, not for the system.
WAITING_FOR_PERSON = frozenset(
    {
        ClaimStage.REGISTRATION,
        ClaimStage.REGISTRATION_NOT_FOUND,
        ClaimStage.RISK_VERIFICATION,
        ClaimStage.AWAITING_CATEGORY,
    }
)


def in_flight(state: ClaimState, done: str) -> bool:
    """Whether the system itself is working on the claim, so the page should look again soon.
    Not when the case waits for a person: blocked (operations), the applicant's unemployment
    registration (the registration stage), a reviewer or the applicant."""
    if state.blocked:
        return False
    if state.status == ClaimStatus.CHECKING:
        return state.stage not in WAITING_FOR_PERSON
    return (done == "reapply" and state.status == ClaimStatus.REJECTED) or (
        done == "supply" and state.status == ClaimStatus.AWAITING_DOCUMENTS
    )


async def case_row(
    session: AsyncSession, staff: StaffActor, case_id: str, *, check_region: bool = True
) -> CaseRecord:
    row = await session.get(CaseRecord, case_id)
    if row is None:
        raise ApiError(404, "case.not_found", "未找到该案件，请核对案件编号")
    if check_region:
        ensure_region(staff, row.region_code)
    return row


async def reviewers_in_scope(session: AsyncSession, region_code: str) -> list[Staff]:
    """Reviewers a supervisor may assign: active, holding the reviewer role, whose region covers
    the case (the validator refuses anyone else)."""
    rows = (await session.exec(select(Staff).where(Staff.active == True).order_by(col(Staff.login)))).all()  # noqa: E712
    return [s for s in rows if Role.REVIEWER.value in s.roles and is_within(s.region_code, region_code)]


async def open_workload(session: AsyncSession, logins: list[str]) -> dict[str, tuple[int, int]]:
    """Login -> (open cases assigned, of which overdue): shown beside each name when assigning."""
    if not logins:
        return {}
    rows = (
        await session.exec(
            select(  # type: ignore[call-overload]
                CaseRecord.assigned_to,
                func.count(),
                func.sum(case((col(CaseRecord.overdue).is_(True), 1), else_=0)),
            )
            .where(
                col(CaseRecord.assigned_to).in_(logins),
                col(CaseRecord.closed_at).is_(None),
                col(CaseRecord.decided_at).is_(None),
            )
            .group_by(CaseRecord.assigned_to)
        )
    ).all()
    return {str(login): (int(n), int(o or 0)) for login, n, o in rows}


def temporal_ui_link(request: Request, case_id: str) -> str:
    settings = settings_of(request)
    base = settings.temporal_ui_url.rstrip("/")
    return f"{base}/namespaces/{settings.temporal_namespace}/workflows/{case_id}"


async def claim_page(
    request: Request,
    staff: StaffActor,
    session: AsyncSession,
    client: Client,
    row: CaseRecord,
    *,
    form: dict[str, Any] | None = None,
    decision_error: str | None = None,
    field_errs: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    case_id = row.case_id
    detail = await claims_api.claim_detail(case_id, row, staff, session, client)
    applicant = await claims_api.claim_applicant(case_id, row, staff, session, client, full=False)
    reasons = await claims_api.reject_reasons(staff)
    state = detail.state
    done = request.query_params.get("done", "")
    actions = claim_actions(staff, state, done)
    rnd = state.current_round
    suggested = rnd.report.eligibility.suggested_reject_reason if rnd and rnd.report else None
    form = {"decision": "", "note": "", "documents": "", "docs": []} | (form or {})
    chosen = form.get("reason_code", "")
    if chosen in RejectReason._value2member_map_:
        reason = RejectReason(chosen)
    else:
        reason = suggested or RejectReason.OTHER
    doc_ids = [d.id for d in state.documents]
    doc_rows = (
        {d.id: d for d in (await session.exec(select(Document).where(col(Document.id).in_(doc_ids)))).all()}
        if doc_ids
        else {}
    )
    reviewers = await reviewers_in_scope(session, row.region_code) if actions.assign else []
    workload = await open_workload(session, [r.login for r in reviewers])
    deciders = [r.decision.by for r in state.rounds if r.decision]
    requesters = [q.by for r in state.rounds for q in r.document_requests]
    names = await staff_names(session, [state.assigned_to, *deciders, *requesters])
    assignee = names.get(state.assigned_to or "", state.assigned_to or "")
    done_message = DONE_MESSAGES.get(done)
    if done == "assign" and state.assigned_to:
        done_message = f"已分派给 {assignee} 审核"
    entries = await timeline.entries(request, staff, session, case_id, state.timeline)
    ctx = {
        "nav": "",
        "case_id": case_id,
        "row": row,
        "item": _item(row, _today()),
        "detail": detail,
        "state": state,
        "applicant": applicant,
        "reasons": reasons,
        "actions": actions,
        "default_reason": reason.value,
        "default_remedy": form.get("remedy", REJECT_REASONS[reason][1]),
        "suggested_reason": suggested,
        "form": form,
        "decision_error": decision_error,
        "field_errors": field_errs or {},
        "done_message": done_message,
        "assignee": assignee,
        "names": names,
        "workload": workload,
        "doc_rows": doc_rows,
        "doc_kinds": doc_kinds(),
        "reviewers": reviewers,
        "category_choices": [(c.value, c.label) for c in RetirementCategory],
        "timeline": entries,
        "labels": {
            "status": CLAIM_STATUS_LABELS,
            "trigger": TRIGGER_LABELS,
            "decision": DECISION_LABELS,
            "stage": STAGE_LABELS,
            "actor": ACTOR_KIND_LABELS,
        },
        "temporal_link": temporal_ui_link(request, case_id),
        # While a decision is applied the 处理中 notice polls instead of reloading the page.
        "auto_refresh": not state.processing and in_flight(state, done),
    }
    return render(request, "claim.html", ctx, staff=staff, status=status)


@router.get("/cases/{case_id}")
async def case_view(
    case_id: str,
    request: Request,
    row: AnyCaseForStaff,
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    if row.case_type == CaseType.COMPLAINT.value:
        return await service_requests.request_page(request, staff, session, row)
    # The consultations and complaints naming this case (``_case_requests.html``).
    request.state.linked_requests = await service_requests.linked_requests(session, staff, case_id)
    # The official notices issued on the case (``_case_notices.html``), to download and print.
    request.state.case_notices = await notices_api.notices_of(session, case_id)
    if row.case_type == CaseType.STOP_REASON_DISPUTE.value:
        return await disputes.case_page(request, staff, session, await get_temporal(request), row)
    if row.case_type == CaseType.BENEFIT_CLAIM.value:
        return await claim_page(request, staff, session, await get_temporal(request), row)
    if row.case_type == CaseType.BENEFIT_PERIOD.value:
        from api.console import periods

        return await periods.period_page(request, staff, session, await get_temporal(request), row)
    if row.case_type == CaseType.SKILL_SUBSIDY.value:
        from api.console import subsidies

        return await subsidies.case_page(request, staff, await get_temporal(request), row)
    if row.case_type == CaseType.PREMIUM_REFUND.value:
        from api.console import premium_refunds

        try:
            return await premium_refunds.case_page(request, staff, await get_temporal(request), row)
        except ApiError as e:
            # No workflow behind the row (synthetic load rows) or Temporal unreachable: the
            # read-model record below still says where the case stands.
            if e.status_code not in (404, 503):
                raise
    return render(
        request,
        "case_generic.html",
        {
            "row": row,
            "item": _item(row, _today()),
            "labels": {"stage": STAGE_LABELS},
            "temporal_link": temporal_ui_link(request, case_id),
        },
        staff=staff,
    )


async def still_processing(client: Client, case_id: str) -> bool:
    """Whether the case is still applying a staff decision it accepted (its Update answers on
    acceptance, issue 19). A case that cannot answer (finished without a worker, Temporal away) is
    not shown as processing: the page then shows what the read model says."""
    try:
        return bool(await client.get_workflow_handle(case_id).query("decision_processing", result_type=bool))
    except (RPCError, WorkflowQueryFailedError):
        return False


@router.get("/cases/{case_id}/progress")
async def progress(case_id: str, request: Request, row: AnyCaseForStaff, staff: StaffUser) -> Response:
    """The 处理中 notice's poll: the notice again while the decision is being applied, else one
    ``HX-Refresh`` so the page reloads once, showing the case as it now stands."""
    if await still_processing(await get_temporal(request), row.case_id):
        return render(request, "_processing.html", {"case_id": row.case_id}, staff=staff)
    return Response(status_code=200, headers={"HX-Refresh": "true"})


@router.get("/go")
async def go(
    request: Request,
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
    q: str = "",
) -> Response:
    """Jump to a case by its number or short number (typed or scanned at the counter; a case
    number is no personal data, unlike what the search page takes, which is POSTed)."""
    case_id = q.strip()
    if not case_id:
        return redirect(request, "/console/inbox")
    if SHORT_NO_RE.match(case_id):  # the short number read out over the phone
        found = (await session.exec(select(CaseRecord).where(CaseRecord.short_no == case_id))).first()
        if found is None:
            raise ApiError(404, "case.not_found", "未找到该案件，请核对案件编号")
        case_id = found.case_id
    row = await case_row(session, staff, case_id, check_region=False)  # the case page checks scope
    return redirect(request, f"/console/cases/{quote(row.case_id, safe='')}")


# --- decisions -------------------------------------------------------------------------------------------


def _show_claim(
    request: Request, staff: StaffActor, session: AsyncSession, client: Client, row: CaseRecord
) -> ShowPage:
    async def show(values: dict[str, Any], message: str, errs: dict[str, str], status: int) -> Response:
        return await claim_page(
            request,
            staff,
            session,
            client,
            row,
            form=values,
            decision_error=message,
            field_errs=errs,
            status=status,
        )

    return show


async def _claim_action(
    request: Request,
    staff: StaffActor,
    session: AsyncSession,
    row: CaseRecord,
    done: str,
    values: dict[str, Any],
    call: Callable[[Client], Awaitable[Any]],
) -> Response:
    """Every action on the claim page (the claim in scope was loaded by the route's case
    dependency): ``act_or_show`` with the claim page as the answer to a refusal."""
    client = await get_temporal(request)
    show = _show_claim(request, staff, session, client, row)
    return await act_or_show(
        request,
        lambda: call(client),
        show,
        values,
        f"/console/cases/{quote(row.case_id, safe='')}?done={done}",
    )


@router.post("/cases/{case_id}/decide", dependencies=[Depends(csrf_protect)])
async def decide(
    case_id: str,
    request: Request,
    row: ClaimForReviewer,
    staff: Reviewer,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    form = await request.form()
    decision = text(form, "decision", 32)
    values = {
        "decision": decision,
        "note": text(form, "note", 600),
        "reason_code": text(form, "reason_code", 64),
        "remedy": text(form, "remedy", 1200),
        "documents": text(form, "documents", 2000),
    }

    async def call(client: Client) -> None:
        if decision == "approve":
            body_a = claims_api.ApproveBody.model_validate({"note": values["note"]})
            await claims_api.approve(case_id, row, staff, body_a, Decider(client, session, None))
        elif decision == "reject":
            body_r = claims_api.RejectBody.model_validate(
                {"reason_code": values["reason_code"], "remedy": values["remedy"], "note": values["note"]}
            )
            await claims_api.reject(case_id, row, staff, body_r, Decider(client, session, None))
        elif decision == "request_documents":
            lines = [ln.strip() for ln in values["documents"].splitlines() if ln.strip()]
            body_d = claims_api.RequestDocumentsBody.model_validate(
                {"documents": lines, "note": values["note"]}
            )
            await claims_api.request_documents(case_id, row, staff, body_d, Decider(client, session, None))
        else:
            raise ApiError(422, "decision.kind", "请选择审核决定：通过、不予通过或要求补正材料")

    return await _claim_action(request, staff, session, row, decision, values, call)


@router.post("/cases/{case_id}/assign", dependencies=[Depends(csrf_protect)])
async def assign(
    case_id: str,
    request: Request,
    row: ClaimForAssigner,
    staff: Assigner,
    session: Annotated[AsyncSession, Depends(get_session)],
    reviewer_login: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    login = reviewer_login.strip() or staff.login

    async def call(client: Client) -> None:
        body = claims_api.AssignBody.model_validate({"reviewer_login": login})
        await claims_api.assign(case_id, row, staff, body, Decider(client, session, None))

    return await _claim_action(request, staff, session, row, "assign", {"reviewer_login": login}, call)


async def _applicant_action(
    request: Request,
    row: CaseRecord,
    staff: StaffActor,
    session: AsyncSession,
    kind: str,
) -> Response:
    form = await request.form()
    docs = attached_documents(form)
    values = {"note": text(form, "note", 600), "docs": docs}
    who: Principal = request.state.principal

    async def call(client: Client) -> None:
        body = claims_api.ApplicantActionBody(documents=document_refs(docs), note=values["note"])
        settings = settings_of(request)
        fn = claims_api.reapply if kind == "reapply" else claims_api.supply_documents
        await fn(row.case_id, row, who, body, settings, Decider(client, session, None))

    return await _claim_action(request, staff, session, row, kind, values, call)


@router.post("/cases/{case_id}/reapply", dependencies=[Depends(csrf_protect)])
async def reapply(
    case_id: str,
    request: Request,
    row: ClaimForClerk,
    staff: Clerk,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    return await _applicant_action(request, row, staff, session, "reapply")


@router.post("/cases/{case_id}/supply-documents", dependencies=[Depends(csrf_protect)])
async def supply_documents(
    case_id: str,
    request: Request,
    row: ClaimForClerk,
    staff: Clerk,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    return await _applicant_action(request, row, staff, session, "supply")


@router.post("/cases/{case_id}/retirement-category", dependencies=[Depends(csrf_protect)])
async def retirement_category(
    case_id: str,
    request: Request,
    row: ClaimForClerk,
    staff: Clerk,
    session: Annotated[AsyncSession, Depends(get_session)],
    category: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    values = {"category": category, "note": note}

    async def call(client: Client) -> None:
        body = claims_api.RetirementCategoryBody.model_validate({"category": category, "note": note.strip()})
        await claims_api.retirement_category(case_id, row, staff, body, Decider(client, session, None))

    return await _claim_action(request, staff, session, row, "category", values, call)


@router.post("/cases/{case_id}/unblock", dependencies=[Depends(csrf_protect)])
async def unblock(
    case_id: str,
    request: Request,
    row: ClaimForOperations,
    staff: Operations,
    session: Annotated[AsyncSession, Depends(get_session)],
    note: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    async def call(client: Client) -> None:
        body = claims_api.UnblockBody.model_validate({"note": note.strip()})
        await claims_api.unblock(case_id, row, staff, body, Decider(client, session, None))

    return await _claim_action(request, staff, session, row, "unblock", {"note": note}, call)


@router.post("/cases/{case_id}/applicant", dependencies=[Depends(csrf_protect)])
async def applicant_full(
    case_id: str,
    request: Request,
    row: ClaimForStaff,
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    """The unmasked applicant data: a POST (a deliberate act, never prefetched) that the API's
    ``claim_applicant`` records in the audit log."""
    client = await get_temporal(request)
    applicant = await claims_api.claim_applicant(case_id, row, staff, session, client, full=True)
    return render(request, "_applicant.html", {"applicant": applicant, "case_id": case_id}, staff=staff)


@router.post("/documents", dependencies=[Depends(csrf_protect)])
async def upload_document(
    request: Request,
    staff: Clerk,
    session: Annotated[AsyncSession, Depends(get_session)],
    kind: Annotated[str, Form(max_length=64)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Upload one file at the counter (the API's ``upload``); the answer is the chip that the form
    submits with the claim, so a re-shown form never loses an upload."""
    kinds = upload_kinds()
    if kind not in kinds:
        raise ApiError(422, "document.kind", "请先选择材料类型")
    if file is None or not file.filename:
        raise ApiError(422, "document.missing", "请选择要上传的文件")
    out = await documents_api.upload(request.state.principal, session, settings_of(request), kind, file)
    doc = {"id": out.id, "kind": out.kind, "sha256": out.sha256, "filename": out.filename, "size": out.size}
    return render(request, "_doc_chip.html", {"doc": doc, "doc_kinds": kinds}, staff=staff, status=201)
