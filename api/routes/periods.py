"""The benefit period's staff operations (issue 14 item 1): stop, suspend and resume, change of
bank account, the transitional (notice item 3) and continuation (续发) applications taken at the
counter, and the transfer to another district.

Each route declares who may call it (``PeriodFor*`` loads the period, checks the role and answers
404 outside the caller's region) and sends one Update through ``api/temporal_ops.py``, whose
validator has the last word (stage, role, region, own case) with ``period.<reason>`` refusals. A
reason is required for every operation; evidence documents are referenced by id and hash (uploaded
through ``/api/v1/documents``) and checked here before the Update, then attached by the workflow.
No personal data in paths: the account number travels only in the body, into an encrypted
payload."""

# No ``from __future__ import annotations``: the operation routes are built from a table below,
# and FastAPI reads their (evaluated) annotations.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.deps import get_session, get_temporal
from api.errors import ApiError
from api.params import IdempotencyKey, KnownRegion
from api.principals import (
    PeriodAccountClerk,
    PeriodCounter,
    PeriodForAccount,
    PeriodForCounter,
    PeriodForHolder,
    PeriodForStaff,
    PeriodForStopper,
    PeriodHolder,
    PeriodStopper,
)
from api.temporal_ops import call_workflow, execute_update
from models.benefit import (
    AccountChangeCommand,
    ContinuationApplication,
    PeriodReceipt,
    PeriodState,
    StaffResumeCommand,
    StaffStopCommand,
    StaffSuspendCommand,
    StopReason,
    TransferCommand,
    TransitionalApplication,
)
from models.person import DocumentRef
from models.staff import StaffActor
from models.tables import CaseRecord, Document
from workflows.benefit_period import BenefitPeriodWorkflow

router = APIRouter(prefix="/api/v1/periods", tags=["periods"])
Session = Annotated[AsyncSession, Depends(get_session)]
Temporal = Annotated[Client, Depends(get_temporal)]
MIN_REASON = 2

#: The stop conditions staff may record (domain.md A5), with their Chinese labels.
STOP_REASON_LABELS: dict[str, str] = {r.value: r.label_zh for r in StopReason}


class Evidence(BaseModel):
    reason: str = Field(
        default="",
        max_length=500,
        description="办理理由（必填，记入案件）",
        examples=["就业登记系统核实已重新就业"],
    )
    evidence: list[DocumentRef] = Field(default_factory=list, max_length=20, description="证明材料（先上传）")


class StopBody(Evidence):
    stop_reason: StopReason = Field(description="停发事由（社会保险法第五十一条、失业保险条例第十五条）")
    on: date = Field(description="事由发生日期", examples=["2027-05-18"])


class ResumeBody(Evidence):
    ref: str | None = Field(default=None, max_length=128, description="解除哪一项暂停（不填：全部）")


class AccountBody(Evidence):
    account_no: str = Field(pattern=r"^\d{12,30}$", description="本人名下的银行账号（将经银行户名核验）")
    bank_name: str = Field(default="", max_length=64)


class TransferBody(Evidence):
    to_region: KnownRegion = Field(
        pattern=r"^15\d{4}$", description="转入的旗县（市、区）", examples=["150202"]
    )


def _reason(body: Evidence, what: str) -> str:
    text = body.reason.strip()
    if len(text) < MIN_REASON:
        raise ApiError(
            422,
            "period.reason_required",
            f"{what}必须写明理由（将记入案件并告知本人）",
            fields={"reason": "请填写办理理由"},
        )
    return text


async def _evidence(session: AsyncSession, case: CaseRecord, refs: list[DocumentRef]) -> list[DocumentRef]:
    """Each document exists with the hash given, and is not another case's."""
    for ref in refs:
        doc = await session.get(Document, ref.id)
        if doc is None or doc.sha256 != ref.sha256 or (doc.case_id not in (None, case.case_id)):
            raise ApiError(
                422,
                "period.invalid",
                "证明材料不存在、已被改动或属于其他案件，请重新上传",
                fields={"evidence": "请重新上传证明材料"},
            )
    return refs


@router.get("/{period_id}", response_model=PeriodState, summary="失业保险金发放案件详情")
async def get_period(period_id: str, case: PeriodForStaff, temporal: Temporal) -> PeriodState:
    handle = temporal.get_workflow_handle_for(BenefitPeriodWorkflow.run, case.case_id)
    state: PeriodState = await call_workflow(lambda: handle.query(BenefitPeriodWorkflow.state_query))
    return state


# --- the operations: one table, one route each (its own role and body), one way to send -------------


@dataclass(frozen=True)
class Operation:
    """A staff operation: its path, what it is called, its body, its principals (the ``PeriodFor*``
    loader and the staff alias, each declaring the roles), its Update, and how the command is
    built from the body, the staff member, the reason and the checked evidence."""

    name: str
    what_zh: str
    summary: str
    body: type[Evidence]
    case: Any
    staff: Any
    update: Any
    build: Callable[[Any, StaffActor, str, list[DocumentRef]], BaseModel]


OPERATIONS: list[Operation] = [
    Operation(
        "stop",
        "登记停发",
        "登记停发（审核员、业务主管）",
        StopBody,
        PeriodForStopper,
        PeriodStopper,
        BenefitPeriodWorkflow.stop_by_staff,
        lambda b, a, r, e: StaffStopCommand(actor=a, reason=b.stop_reason, on=b.on, note=r, evidence=e),
    ),
    Operation(
        "suspend",
        "暂停发放",
        "暂停发放（审核员、风险稽核员、业务主管）",
        Evidence,
        PeriodForHolder,
        PeriodHolder,
        BenefitPeriodWorkflow.suspend_by_staff,
        lambda b, a, r, e: StaffSuspendCommand(actor=a, reason_zh=r, evidence=e),
    ),
    Operation(
        "resume",
        "恢复发放",
        "恢复发放（审核员、风险稽核员、业务主管）",
        ResumeBody,
        PeriodForHolder,
        PeriodHolder,
        BenefitPeriodWorkflow.resume_by_staff,
        lambda b, a, r, e: StaffResumeCommand(actor=a, ref=b.ref, note=r, evidence=e),
    ),
    Operation(
        "account",
        "变更收款账户",
        "变更收款账户（经银行户名核验）",
        AccountBody,
        PeriodForAccount,
        PeriodAccountClerk,
        BenefitPeriodWorkflow.change_account,
        lambda b, a, r, e: AccountChangeCommand(
            actor=a, account_no=b.account_no, bank_name=b.bank_name, note=r, evidence=e
        ),
    ),
    Operation(
        "transitional",
        "受理过渡期发放申请",
        "受理过渡期发放申请（通知第三项）",
        Evidence,
        PeriodForCounter,
        PeriodCounter,
        BenefitPeriodWorkflow.apply_transitional,
        lambda b, a, r, e: TransitionalApplication(by=a.login, actor=a, note=r, evidence=e),
    ),
    Operation(
        "continuation",
        "受理续发申请",
        "受理续发申请",
        Evidence,
        PeriodForCounter,
        PeriodCounter,
        BenefitPeriodWorkflow.apply_continuation,
        lambda b, a, r, e: ContinuationApplication(actor=a, note=r, evidence=e),
    ),
    Operation(
        "transfer",
        "办理发放地转移",
        "转移发放地（区内跨旗县）",
        TransferBody,
        PeriodForStopper,
        PeriodStopper,
        BenefitPeriodWorkflow.transfer_region,
        lambda b, a, r, e: TransferCommand(actor=a, to_region=b.to_region, note=r, evidence=e),
    ),
]

OperationEndpoint = Callable[..., Awaitable[PeriodReceipt]]


def _route(op: Operation) -> OperationEndpoint:
    async def endpoint(
        period_id: str,
        body: Evidence,
        case: CaseRecord,
        staff: StaffActor,
        session: Session,
        temporal: Temporal,
        idempotency_key: IdempotencyKey = None,
    ) -> PeriodReceipt:
        arg = op.build(body, staff, _reason(body, op.what_zh), await _evidence(session, case, body.evidence))
        return await execute_update(
            temporal,
            case.case_id,
            op.update,
            arg,
            session=session,
            idempotency_key=idempotency_key,
            result_type=PeriodReceipt,
        )

    # What FastAPI reads: the operation's own body and its principals (the role check and the
    # 404 outside the caller's region), declared in the signature as every route does.
    endpoint.__annotations__ |= {"body": op.body, "case": op.case, "staff": op.staff}
    endpoint.__name__ = endpoint.__qualname__ = op.name.replace("-", "_")
    router.post(f"/{{period_id}}/{op.name}", response_model=PeriodReceipt, summary=op.summary)(endpoint)
    return endpoint


#: The route functions by operation name (the console calls them, so its rules are the API's).
ENDPOINTS: dict[str, OperationEndpoint] = {op.name: _route(op) for op in OPERATIONS}
