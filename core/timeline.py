"""The case timeline, built from the workflow history: who did what, when, and on which evidence.

Why from the history: the workflow history is the legal record of a case. Every staff decision is
an Update (``WORKFLOW_EXECUTION_UPDATE_ACCEPTED`` with the decision as its payload), every answer
of an external system is an activity result, every deadline is a timer. A timeline built from
those events cannot disagree with what the case actually did, and it can be rebuilt by an auditor
from an exported history years later (``core.archive``).

The workflow's own recorded ``TimelineEntry`` list (its narrative, in Chinese) is merged in where
it is available: each entry is placed right after the workflow task that recorded it (its ``at``
is ``workflow.now()`` of that task, the task's start time). The history stays the source of
truth: narrative entries are marked ``source="workflow"`` and never replace a history event.

One pure builder for the API, the CLI and the console: input histories (one per run of a
continue-as-new chain, first to last) and a data converter; output pydantic entries.

Decryption: with a data converter, payloads are decrypted and shown (``detail``); without one
(``converter=None``) the timeline carries only what the history holds in clear text (event
types, update, signal and activity names, times, status search attributes): no personal data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, Field
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter, PayloadConverter

from models import benefit as benefit_models
from models import case as case_models
from models import claim as claim_models
from models import dispute as dispute_models
from models import premium_refund as refund_models
from models import service_request as service_request_models
from models import skill_subsidy as subsidy_models
from models import verification as verification_models
from models.case import BUSINESS_TZ, TimelineEntry, TimelineLabels
from models.enums import Role
from models.tables import PaymentOrder

T = TypeVar("T")
ActorKind = Literal["staff", "system", "applicant", "external", "employer", "unknown"]
Category = Literal[
    "lifecycle",  # started, completed, continued as new, closed
    "decision",  # a staff decision (Update)
    "request",  # an applicant's or employer's submission (Update/Signal from them)
    "external",  # an event or answer from an external system
    "check",  # an automatic check or computation (activity)
    "notification",
    "timer",
    "status",  # the case status/stage search attributes changed
    "failure",
    "bookkeeping",  # read-model projection, audit-log write
    "narrative",  # the workflow's own recorded timeline entry
]

UNDECRYPTED = "（未解密）"
# The audit-log action of one view of a case's timeline (API, CLI, console).
VIEW_ACTION = "case.timeline.viewed"


class EvidenceRef(BaseModel):
    """A result a decision was taken on: the latest answer of that activity before it."""

    event_id: int
    run: int
    activity: str
    label_zh: str
    versions: dict[str, str] = Field(default_factory=dict)


class Evidence(BaseModel):
    documents: list[str] = Field(default_factory=list)  # SHA-256 of the documents involved
    versions: dict[str, str] = Field(default_factory=dict)  # parameter/calendar/rule versions
    based_on: list[EvidenceRef] = Field(default_factory=list)  # for decisions: the checks in force


class TimelineEvent(BaseModel):
    run: int  # 1 = the first run of a continue-as-new chain
    run_id: str
    event_id: int  # the history event (for narrative entries: the workflow task that recorded it)
    at: datetime  # Asia/Shanghai
    source: Literal["history", "workflow", "ledger"]
    event_type: str  # the history event type without the EVENT_TYPE_ prefix, or "NARRATIVE"
    category: Category
    actor_kind: ActorKind
    actor: str
    action: str  # update/signal/activity name, lifecycle code, or the workflow's event code
    text_zh: str
    evidence: Evidence = Field(default_factory=Evidence)
    detail: dict[str, Any] | None = None  # decrypted payloads (personal data): authorised views only
    refers_to: int | None = None  # e.g. an update's completion → its acceptance


class RunInfo(BaseModel):
    run: int
    run_id: str
    workflow_type: str
    started_at: datetime
    closed_at: datetime | None
    close: str | None  # COMPLETED, FAILED, CONTINUED_AS_NEW, TERMINATED… or None while open
    events: int


# --- labels -------------------------------------------------------------------------------------

# Each case type declares its own labels beside its Update names (``TIMELINE`` in its models
# module); they are merged here, one plain import per type. A name two types label differently
# fails at import, so a new type cannot silently relabel another's events.
_TYPE_LABELS: tuple[TimelineLabels, ...] = (
    case_models.TIMELINE,
    claim_models.TIMELINE,
    dispute_models.TIMELINE,
    benefit_models.TIMELINE,
    service_request_models.TIMELINE,
    verification_models.TIMELINE,
    subsidy_models.TIMELINE,
    refund_models.TIMELINE,
)


def _merge(parts: Iterable[Mapping[str, T]]) -> dict[str, T]:
    out: dict[str, T] = {}
    for part in parts:
        for name, label in part.items():
            if out.setdefault(name, label) != label:
                raise ValueError(f"timeline label of {name!r} declared twice with different texts")
    return out


# activity name -> (category, actor kind, actor, Chinese label)
ACTIVITIES = cast(dict[str, tuple[Category, ActorKind, str, str]], _merge(t.activities for t in _TYPE_LABELS))
UPDATES: dict[str, str] = _merge(t.updates for t in _TYPE_LABELS)
SIGNALS = cast(dict[str, tuple[ActorKind, str, str]], _merge(t.signals for t in _TYPE_LABELS))
REVIEW_ACTIONS = {"approve": "通过", "reject": "不予通过", "send_back": "退回"}
STATUS_KEYS = ("CaseStatus", "CaseStage", "Overdue", "AssignedTo")
#: The search attributes and their values as staff read them (issue 20: ``CaseStatus=checking``).
STATUS_KEY_LABELS = {"CaseStatus": "状态", "CaseStage": "环节", "Overdue": "逾期", "AssignedTo": "承办人"}


def _labels_of(*tables: Mapping[Any, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for table in tables:
        for k, v in table.items():
            out.setdefault(str(getattr(k, "value", k)), v)
    return out


STATUS_ZH = _labels_of(
    claim_models.CLAIM_STATUS_LABELS,
    benefit_models.PERIOD_STATUS_LABELS,
    dispute_models.DISPUTE_STATUS_LABELS,
    service_request_models.STATUS_LABELS,
    subsidy_models.SUBSIDY_STATUS_LABELS,
    {v: v.label_zh for v in verification_models.VerificationStatus},
)
STAGE_ZH = _labels_of(
    *(
        {v: v.label_zh for v in enum}
        for enum in (
            claim_models.ClaimStage,
            dispute_models.DisputeStage,
            service_request_models.RequestStage,
            subsidy_models.SubsidyStage,
            verification_models.VerificationStage,
        )
    )
)


def status_value_zh(key: str, value: Any) -> str:
    """One search-attribute value in Chinese; a code without a label is left out, not shown."""
    if value is None or value == "":
        return "无"
    if key == "Overdue":
        return "是" if value else "否"
    if key == "CaseStatus":
        return STATUS_ZH.get(str(value), "已更新")
    if key == "CaseStage":
        return STAGE_ZH.get(str(value), "已更新")
    return str(value)


VERSION_KEYS = ("parameter_version", "calendar_version", "rule_version", "rules_version")
# Activities whose latest result counts as evidence for a later staff decision.
EVIDENCE_CATEGORIES = frozenset({"external", "check"})

_CLOSE_TYPES = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "COMPLETED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "FAILED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "TIMED_OUT",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "CANCELED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "TERMINATED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "CONTINUED_AS_NEW",
}


def shanghai(ts: Any) -> datetime:
    """A protobuf Timestamp as an Asia/Shanghai datetime."""
    return ts.ToDatetime(tzinfo=UTC).astimezone(BUSINESS_TZ)


def _type_name(e: HistoryEvent) -> str:
    return EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")


def _duration_zh(d: timedelta) -> str:
    secs = int(d.total_seconds())
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    parts = [
        f"{days}天" if days else "",
        f"{hours}小时" if hours else "",
        f"{minutes}分钟" if minutes else "",
    ]
    return "".join(parts) or f"{secs}秒"


# --- payload walking ----------------------------------------------------------------------------


def _walk(value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k), v
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def documents_in(value: Any) -> list[str]:
    """Document hashes anywhere in a payload (``sha256`` fields, or ``documents`` lists of hashes)."""
    out: list[str] = []
    for k, v in _walk(value):
        if k == "sha256" and isinstance(v, str) and len(v) == 64:
            out.append(v)
    return list(dict.fromkeys(out))


def versions_in(value: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in _walk(value):
        if k in VERSION_KEYS and isinstance(v, str) and v:
            out.setdefault(k, v)
    return out


LOCAL_ACTIVITY_MARKER = "core_local_activity"


def _local_activity(e: HistoryEvent) -> tuple[str, Payloads | None] | None:
    """A local activity's marker: its type (from the marker's JSON data, written by the SDK's
    core, not sealed by the codec) and its result payloads; None for any other marker."""
    m = e.marker_recorded_event_attributes
    if m.marker_name != LOCAL_ACTIVITY_MARKER or m.HasField("failure"):
        return None
    data = m.details.get("data")
    if data is None or not data.payloads:
        return None
    try:
        meta = json.loads(data.payloads[0].data)
    except ValueError:
        return None
    name = meta.get("activity_type") if isinstance(meta, dict) else None
    if not isinstance(name, str):
        return None
    return name, m.details.get("result")


def _first(values: list[Any]) -> Any:
    return values[0] if values else None


# --- the builder --------------------------------------------------------------------------------


class _Decoder:
    """Decrypts and decodes payloads; a payload it cannot open is reported, not fatal."""

    def __init__(self, converter: DataConverter | None) -> None:
        self.converter = converter

    @property
    def on(self) -> bool:
        return self.converter is not None

    async def values(self, payloads: Payloads | Sequence[Payload] | None) -> list[Any] | None:
        if self.converter is None or payloads is None:
            return None
        items = list(payloads.payloads) if isinstance(payloads, Payloads) else list(payloads)
        if not items:
            return []
        try:
            return list(await self.converter.decode(items))
        except Exception as e:
            return [{"_error": f"无法解密或解码：{type(e).__name__}"}]

    async def failure(self, failure: Failure) -> str:
        if self.converter is None:
            return UNDECRYPTED
        copy = Failure()
        copy.CopyFrom(failure)  # decode_failure works in place; the history must stay as it is
        try:
            exc = await self.converter.decode_failure(copy)
        except Exception as e:
            return f"无法解码：{type(e).__name__}"
        return f"{type(exc).__name__}: {exc}"


def _status_values(e: HistoryEvent) -> dict[str, Any]:
    fields = e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    out: dict[str, Any] = {}
    for key in STATUS_KEYS:
        if key in fields:
            try:
                out[key] = PayloadConverter.default.from_payloads([fields[key]])[0]
            except Exception:
                out[key] = None
    return out


def _actor_of(args: Any) -> tuple[ActorKind, str] | None:
    """Who sent an Update/Signal, from its payload: a staff ``actor``, or a ``by`` (applicant or a
    clerk login), or an employer's credit code."""
    if not isinstance(args, dict):
        return None
    actor = args.get("actor")
    if isinstance(actor, dict) and actor.get("login"):
        roles = actor.get("roles") or []
        kind: ActorKind = "employer" if roles == ["employer"] else "staff"
        return kind, str(actor["login"])
    by = args.get("by")
    if isinstance(by, str) and by:
        return ("applicant", "applicant") if by == "applicant" else ("staff", by)
    if isinstance(args.get("employer_credit_code"), str) and args.get("submitted_by") == "employer":
        return "employer", str(args["employer_credit_code"])
    return None


def _decision_text(name: str, args: Any) -> str:
    label = UPDATES.get(name, name)
    if not isinstance(args, dict):
        return label
    bits: list[str] = []
    action = args.get("action")
    if isinstance(action, str) and action:
        bits.append(REVIEW_ACTIONS.get(action, action))
    if isinstance(args.get("reason"), str) and args["reason"]:
        bits.append(f"理由：{args['reason']}")
    code = args.get("reason_code")
    if code:
        bits.append(f"原因：{_reason_label(str(code))}")
    if args.get("remedy"):
        bits.append(f"处置方式：{args['remedy']}")
    docs = args.get("documents")
    if isinstance(docs, list) and docs and all(isinstance(d, str) for d in docs):
        bits.append(f"材料：{'、'.join(docs)}")
    elif isinstance(docs, list) and docs:
        bits.append(f"提交材料{len(docs)}份")
    if args.get("reviewer_login"):
        bits.append(f"分派给：{args['reviewer_login']}")
    if args.get("note"):
        bits.append(f"说明：{args['note']}")
    # No doubled punctuation ("。；"): a part that ends a sentence loses its full stop inside the list.
    return label + ("（" + "；".join(b.rstrip("。；") for b in bits) + "）" if bits else "")


def _reason_label(code: str) -> str:
    try:
        from models.claim import REJECT_REASONS, RejectReason

        return REJECT_REASONS[RejectReason(code)][0]
    except (KeyError, ValueError):
        return code


def _result_text(activity: str, result: Any) -> str:
    """A one-line, personal-data-free summary of a known activity's result."""
    r = result if isinstance(result, dict) else {}
    match activity:
        case "check_registration" | "register_at_counter":
            if r.get("registered"):
                return f"已登记（{r.get('registered_on') or ''}，登记号{r.get('registration_no') or '—'}）"
            return "未查到失业登记"
        case "fetch_contributions":
            return f"累计缴费{r.get('cumulative_months')}个月，最近连续{r.get('last_consecutive_months')}个月"
        case "fetch_stop_reason":
            kind = "非本人意愿" if r.get("involuntary") else "本人意愿或未查到"
            return f"停保原因：{r.get('label')}（{kind}）"
        case "check_cross_province":
            return f"外省正在领取（{r.get('province')}）" if r.get("receiving_elsewhere") else "未在外省领取"
        case "check_pension":
            return "正在领取养老待遇" if r.get("receiving") else "未领取养老待遇"
        case "employer_risk_inputs":
            return f"同一单位{r.get('window_days')}日内其他申领{r.get('claims_in_window')}件"
        case "unused_months":
            return f"以往未领{result}个月"
        case "assess_claim":
            el = r.get("eligibility") or {}
            risks = [h.get("code") for h in r.get("risk_hits") or [] if isinstance(h, dict)]
            text = f"符合申领条件，最长{el.get('max_months')}个月" if el.get("eligible") else "不符合申领条件"
            return text + (f"；风险提示：{'、'.join(map(str, risks))}" if risks else "")
        case "compute_deadline":
            return f"办理时限{r.get('deadline')}（{r.get('working_days')}个工作日）"
        case "compute_entitlement":
            return (
                f"核定{r.get('max_months')}个月（{r.get('first_month')}至{r.get('last_month')}），"
                f"合计{r.get('total')}元"
            )
        case "link_documents":
            return f"材料{result}份已校验"
        case "archive_closed_cases":
            return (
                f"新归档{r.get('archived')}段，已归档{r.get('already')}段，失败{len(r.get('failed') or [])}段"
            )
    return "完成"


def _role_zh(role: Any) -> str:
    try:
        return Role(str(role)).label if role else ""
    except ValueError:
        return ""


def _input_text(activity: str, arg: Any) -> str:
    a = arg if isinstance(arg, dict) else {}
    if activity == "notify":
        who = {"applicant": "申请人", "staff": "工作人员", "employer": "用人单位"}.get(
            str(a.get("audience")), ""
        )
        target = a.get("staff_login") or _role_zh(a.get("staff_role")) or ""
        # What the message said (without the greeting that names the person), not its template code.
        said = str(a.get("text_zh") or "").split("您好：", 1)[-1]
        said = said[:60] + ("…" if len(said) > 60 else "")
        return f"通知{who}{('（' + str(target) + '）') if target else ''}" + (f"：{said}" if said else "")
    # Bookkeeping entries say what was done, not the internal action or status code (those stay in
    # the audit log and the read model, where auditors read them with their labels).
    if activity == "write_audit":
        return "写入审计日志"
    if activity == "project_case":
        return "更新案件台账"
    return ""


async def build_timeline(
    histories: Sequence[WorkflowHistory],
    converter: DataConverter | None,
    *,
    recorded: Sequence[TimelineEntry | dict[str, Any]] = (),
    include_bookkeeping: bool = True,
) -> list[TimelineEvent]:
    """The timeline of one case: ``histories`` are the runs of its continue-as-new chain, first to
    last. ``converter`` decrypts payloads (None: a redacted timeline). ``recorded`` is the
    workflow's own timeline (from a query or a replay), merged in as narrative entries."""
    dec = _Decoder(converter)
    out: list[TimelineEvent] = []
    task_started: dict[datetime, tuple[int, str, int]] = {}  # WFT start time -> (run, run_id, event id)
    documents: list[str] = []
    latest_checks: dict[str, EvidenceRef] = {}

    for run_no, history in enumerate(histories, start=1):
        run_id = history.run_id
        scheduled: dict[int, tuple[str, Any]] = {}  # activity scheduled event -> (name, decoded input)
        timers: dict[int, timedelta] = {}
        accepted: dict[str, tuple[int, str, tuple[ActorKind, str], Category]] = {}
        last_status: dict[str, Any] = {}

        def emit(
            e: HistoryEvent,
            category: Category,
            actor: tuple[ActorKind, str],
            action: str,
            text_zh: str,
            *,
            payload: Any = None,
            evidence: Evidence | None = None,
            refers_to: int | None = None,
            _run_no: int = run_no,
            _run_id: str = run_id,
        ) -> TimelineEvent:
            if evidence is None:
                evidence = Evidence(documents=documents_in(payload), versions=versions_in(payload))
            ev = TimelineEvent(
                run=_run_no,
                run_id=_run_id,
                event_id=e.event_id,
                at=shanghai(e.event_time),
                source="history",
                event_type=_type_name(e),
                category=category,
                actor_kind=actor[0],
                actor=actor[1],
                action=action,
                text_zh=text_zh,
                evidence=evidence,
                detail=payload if (dec.on and payload is not None) else None,
                refers_to=refers_to,
            )
            for d in ev.evidence.documents:
                if d not in documents:
                    documents.append(d)
            if category != "bookkeeping" or include_bookkeeping:
                out.append(ev)
            return ev

        for e in history.events:
            t = e.event_type
            if t == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                task_started.setdefault(shanghai(e.event_time), (run_no, run_id, e.event_id))

            elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                a = e.workflow_execution_started_event_attributes
                args = await dec.values(a.input)
                first = _first(args or [])
                who = _starter(first, a.identity, dec.on)
                if a.continued_execution_run_id:
                    text = f"案件继续运行（续接 run {a.continued_execution_run_id}）：{a.workflow_type.name}"
                else:
                    text = f"案件开始：{a.workflow_type.name}"
                emit(
                    e,
                    "lifecycle",
                    who,
                    "started",
                    text,
                    payload={"input": args} if args is not None else None,
                )

            elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                a_s = e.activity_task_scheduled_event_attributes
                scheduled[e.event_id] = (a_s.activity_type.name, _first(await dec.values(a_s.input) or []))

            elif t in (EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, EventType.EVENT_TYPE_MARKER_RECORDED):
                if t == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                    a_c = e.activity_task_completed_event_attributes
                    name, arg = scheduled.get(a_c.scheduled_event_id, ("activity", None))
                    refers: int | None = a_c.scheduled_event_id
                    result_payloads: Payloads | None = a_c.result
                else:
                    # A step run as a local activity (the lean claim's assessment, projection,
                    # audit...) is one marker: its type in the marker's data, its result beside it.
                    local = _local_activity(e)
                    if local is None:
                        continue
                    name, result_payloads = local
                    arg, refers = None, None
                category, kind, actor, label = ACTIVITIES.get(name, ("check", "system", "uiflow", name))
                values = await dec.values(result_payloads) if result_payloads is not None else None
                result = _first(values or [])
                text = label
                if dec.on:
                    summary = _input_text(name, arg) or _result_text(name, result)
                    text = f"{label}：{summary}"
                payload = {"input": arg, "result": result} if dec.on else None
                ev = emit(e, category, (kind, actor), name, text, payload=payload, refers_to=refers)
                if category in EVIDENCE_CATEGORIES:
                    latest_checks[name] = EvidenceRef(
                        event_id=ev.event_id,
                        run=run_no,
                        activity=name,
                        label_zh=label,
                        versions=ev.evidence.versions,
                    )

            elif t in (
                EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
                EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
            ):
                failed = t == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
                a_f = (
                    e.activity_task_failed_event_attributes
                    if failed
                    else e.activity_task_timed_out_event_attributes
                )
                name, arg = scheduled.get(a_f.scheduled_event_id, ("activity", None))
                _, kind, actor, label = ACTIVITIES.get(name, ("check", "system", "uiflow", name))
                message = await dec.failure(a_f.failure)
                verb = "失败" if failed else "超时"
                emit(
                    e,
                    "failure",
                    (kind, actor),
                    name,
                    f"{label}{verb}：{message}" if dec.on else f"{label}{verb}",
                    payload={"input": arg, "failure": message} if dec.on else None,
                    refers_to=a_f.scheduled_event_id,
                )

            elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                u = e.workflow_execution_update_accepted_event_attributes
                name = u.accepted_request.input.name
                args = await dec.values(u.accepted_request.input.args)
                first = _first(args or [])
                sender = _actor_of(first) if dec.on else None
                who = sender or (
                    "unknown",
                    UNDECRYPTED if not dec.on else (u.accepted_request.meta.identity or "unknown"),
                )
                is_staff = who[0] == "staff"
                category = "decision" if is_staff or (not dec.on and name in UPDATES) else "request"
                text = _decision_text(name, first) if dec.on else UPDATES.get(name, name)
                in_args = documents_in(first)
                evidence = Evidence(
                    # A decision rests on every document of the case so far; a submission on its own.
                    documents=list(dict.fromkeys([*documents, *in_args]))
                    if category == "decision"
                    else in_args,
                    versions=versions_in(first),
                    based_on=list(latest_checks.values()) if category == "decision" else [],
                )
                payload = {"update_id": u.accepted_request.meta.update_id, "args": args} if dec.on else None
                emit(e, category, who, name, text, payload=payload, evidence=evidence)
                accepted[u.accepted_request.meta.update_id] = (e.event_id, name, who, category)

            elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
                uc = e.workflow_execution_update_completed_event_attributes
                acc_id, name, who, acc_category = accepted.get(
                    uc.meta.update_id, (uc.accepted_event_id, "update", ("unknown", UNDECRYPTED), "request")
                )
                label = UPDATES.get(name, name)
                if uc.outcome.HasField("failure"):
                    message = await dec.failure(uc.outcome.failure)
                    emit(
                        e,
                        "failure",
                        who,
                        name,
                        f"{label}：处理失败（{message}）" if dec.on else f"{label}：处理失败",
                        payload={"failure": message} if dec.on else None,
                        refers_to=acc_id,
                    )
                else:
                    res = _first(await dec.values(uc.outcome.success) or [])
                    msg = res.get("message_zh") if isinstance(res, dict) else None
                    text = f"{label}：已办结" + (f"（{msg}）" if msg else "")
                    emit(
                        e,
                        acc_category,
                        who,
                        name,
                        text,
                        payload={"result": res} if dec.on else None,
                        evidence=Evidence(),
                        refers_to=acc_id,
                    )

            elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                sg = e.workflow_execution_signaled_event_attributes
                kind, actor, label = SIGNALS.get(sg.signal_name, ("external", sg.identity or "external", ""))
                args = await dec.values(sg.input)
                first = _first(args or [])
                who2 = (_actor_of(first) if dec.on else None) or (kind, actor)
                emit(
                    e,
                    "external" if who2[0] == "external" else "request",
                    who2,
                    sg.signal_name,
                    f"收到信号：{label or sg.signal_name}",
                    payload={"args": args, "identity": sg.identity} if dec.on else None,
                )

            elif t == EventType.EVENT_TYPE_TIMER_STARTED:
                ts = e.timer_started_event_attributes
                timers[e.event_id] = ts.start_to_fire_timeout.ToTimedelta()

            elif t == EventType.EVENT_TYPE_TIMER_FIRED:
                tf = e.timer_fired_event_attributes
                waited = timers.get(tf.started_event_id)
                text = f"定时器到期（等待{_duration_zh(waited)}）" if waited is not None else "定时器到期"
                emit(
                    e,
                    "timer",
                    ("system", "timer"),
                    f"timer:{tf.timer_id}",
                    text,
                    refers_to=tf.started_event_id,
                )

            elif t == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
                status_now = _status_values(e)
                changed = {k: v for k, v in status_now.items() if last_status.get(k) != v}
                last_status.update(status_now)
                if changed:
                    text = "案件状态：" + "，".join(
                        f"{STATUS_KEY_LABELS.get(k, k)}为{status_value_zh(k, v)}" for k, v in changed.items()
                    )
                    emit(e, "status", ("system", "uiflow"), "status", text, evidence=Evidence())

            elif t == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                wf = e.workflow_task_failed_event_attributes
                cause = WorkflowTaskFailedCause.Name(wf.cause).removeprefix("WORKFLOW_TASK_FAILED_CAUSE_")
                message = await dec.failure(wf.failure)
                emit(
                    e,
                    "failure",
                    ("system", "worker"),
                    "workflow_task_failed",
                    f"工作流任务失败（{cause}）" + (f"：{message}" if dec.on else ""),
                    evidence=Evidence(),
                )

            elif t == EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
                se = e.signal_external_workflow_execution_initiated_event_attributes
                emit(
                    e,
                    "lifecycle",
                    ("system", "uiflow"),
                    f"signal:{se.signal_name}",
                    f"通知关联案件{se.workflow_execution.workflow_id}："
                    + (SIGNALS[se.signal_name][2] if se.signal_name in SIGNALS else "情况变化"),
                    evidence=Evidence(),
                )

            elif t == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                ci = e.start_child_workflow_execution_initiated_event_attributes
                emit(
                    e,
                    "lifecycle",
                    ("system", "uiflow"),
                    f"child:{ci.workflow_type.name}",
                    f"发起关联案件{ci.workflow_id}（{ci.workflow_type.name}）",
                    evidence=Evidence(),
                )

            elif t == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
                cc = e.child_workflow_execution_completed_event_attributes
                res = _first(await dec.values(cc.result) or [])
                emit(
                    e,
                    "lifecycle",
                    ("system", "uiflow"),
                    f"child:{cc.workflow_type.name}",
                    f"关联案件{cc.workflow_execution.workflow_id}已办结",
                    payload={"result": res} if dec.on else None,
                )

            elif t in _CLOSE_TYPES:
                await _emit_close(e, dec, emit)

    if recorded and dec.on:
        out = _merge_narrative(out, recorded, task_started, histories)
    return out


def _starter(first: Any, identity: str, decrypted: bool) -> tuple[ActorKind, str]:
    """Who started the case: the applicant (online), the clerk (counter), the employer, or the
    system (a schedule, a parent case)."""
    if decrypted and isinstance(first, dict):
        by = first.get("submitted_by")
        if isinstance(by, dict):  # a StaffActor (a clerk, or an employer signed in on the website)
            who = _actor_of({"actor": by})
            if who:
                return who
        if isinstance(by, str) and by:
            if by == "applicant":
                return "applicant", "applicant"
            if by == "employer":
                return "employer", str(first.get("employer_credit_code") or "employer")
            return "staff", by
        who = _actor_of(first)
        if who:
            return who
    if identity.startswith("temporal-") or "schedule" in identity:
        return "system", identity
    return ("system", identity or "uiflow") if decrypted else ("unknown", UNDECRYPTED)


async def _emit_close(e: HistoryEvent, dec: _Decoder, emit: Any) -> None:
    t = e.event_type
    kind = _CLOSE_TYPES[t]
    if t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        res = _first(await dec.values(e.workflow_execution_completed_event_attributes.result) or [])
        status = res.get("status") if isinstance(res, dict) else None
        text = "案件办结" + (f"（结果：{STATUS_ZH.get(str(status), '见案件状态')}）" if status else "")
        emit(
            e,
            "lifecycle",
            ("system", "uiflow"),
            "completed",
            text,
            payload={"result": res} if dec.on else None,
        )
    elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        a = e.workflow_execution_continued_as_new_event_attributes
        emit(
            e,
            "lifecycle",
            ("system", "uiflow"),
            "continued_as_new",
            f"历史分段：案件在新的运行中继续（run {a.new_execution_run_id}）",
            payload=None,
            evidence=Evidence(),
        )
    elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        a2 = e.workflow_execution_terminated_event_attributes
        emit(
            e,
            "lifecycle",
            ("staff" if a2.identity else "unknown", a2.identity or UNDECRYPTED),
            "terminated",
            f"案件被强制终止：{a2.reason}" if a2.reason else "案件被强制终止",
            evidence=Evidence(),
        )
    elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        message = await dec.failure(e.workflow_execution_failed_event_attributes.failure)
        emit(
            e,
            "failure",
            ("system", "uiflow"),
            "failed",
            f"案件运行失败：{message}" if dec.on else "案件运行失败",
            evidence=Evidence(),
        )
    else:
        emit(e, "lifecycle", ("system", "uiflow"), kind.lower(), f"案件结束（{kind}）", evidence=Evidence())


def _merge_narrative(
    events: list[TimelineEvent],
    recorded: Sequence[TimelineEntry | dict[str, Any]],
    task_started: dict[datetime, tuple[int, str, int]],
    histories: Sequence[WorkflowHistory],
) -> list[TimelineEvent]:
    """Place each recorded entry right after the workflow task that recorded it; an entry whose
    task is not in these histories (e.g. from an earlier run not fetched) goes by time."""
    keyed: list[tuple[tuple[int, int, int, int], TimelineEvent]] = [
        ((ev.run, ev.event_id, 1, i), ev) for i, ev in enumerate(events)
    ]
    last_run = len(histories)
    last_run_id = histories[-1].run_id if histories else ""
    for i, raw in enumerate(recorded):
        entry = raw if isinstance(raw, TimelineEntry) else TimelineEntry.model_validate(raw)
        at = entry.at.astimezone(BUSINESS_TZ)
        where = task_started.get(at)
        if where is None:
            # Not matched to a task: order by time against the history events.
            later = next((ev for ev in events if ev.at > at), None)
            where = (
                (later.run, later.run_id, later.event_id - 1) if later else (last_run, last_run_id, 1 << 30)
            )
        run, run_id, event_id = where
        evidence = Evidence(documents=documents_in(entry.evidence), versions=versions_in(entry.evidence))
        ev = TimelineEvent(
            run=run,
            run_id=run_id,
            event_id=event_id,
            at=at,
            source="workflow",
            event_type="NARRATIVE",
            category="narrative",
            actor_kind=entry.actor_kind,
            actor=entry.actor,
            action=entry.what,
            text_zh=entry.text_zh,
            evidence=evidence,
            detail={"evidence": _jsonable(entry.evidence)},
        )
        keyed.append(((run, event_id, 0, i), ev))
    keyed.sort(key=lambda k: k[0])
    return [ev for _, ev in keyed]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def describe_runs(histories: Sequence[WorkflowHistory]) -> list[RunInfo]:
    out = []
    for n, h in enumerate(histories, start=1):
        first, last = h.events[0], h.events[-1]
        close = _CLOSE_TYPES.get(last.event_type)
        out.append(
            RunInfo(
                run=n,
                run_id=h.run_id,
                workflow_type=first.workflow_execution_started_event_attributes.workflow_type.name,
                started_at=shanghai(first.event_time),
                closed_at=shanghai(last.event_time) if close else None,
                close=close,
                events=len(h.events),
            )
        )
    return out


def staff_decisions(events: Sequence[TimelineEvent]) -> list[TimelineEvent]:
    """The staff decisions (accepted Updates by staff), in order."""
    return [
        e for e in events if e.category == "decision" and e.event_type == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED"
    ]


# --- the ledger next to the history ------------------------------------------------------------------

LEDGER_STATUS_ZH = {"paid": "已发放", "rejected": "银行退回", "ordered": "已生成支付指令，待银行处理"}


async def ledger_rows(session: AsyncSession, case_id: str) -> list[PaymentOrder]:
    """The case's payment orders: since the pay day is set-based (docs/payments.md §0), a benefit
    period's payments are made by its region's pay-day runs, and recorded here, not in its own
    history."""
    rows = (await session.exec(select(PaymentOrder).where(PaymentOrder.case_id == case_id))).all()
    return sorted(rows, key=lambda r: (r.updated_at, r.period))


def with_ledger(events: list[TimelineEvent], orders: Sequence[PaymentOrder]) -> list[TimelineEvent]:
    """The timeline with one entry per payment order (month, amount, status, the run and bank batch
    that paid it), merged in by time (the history's own order is kept). The bank reference is
    evidence; no account number is shown."""
    ledger: list[TimelineEvent] = []
    for o in orders:
        at = o.updated_at if o.updated_at.tzinfo else o.updated_at.replace(tzinfo=UTC)
        y, m = o.period.split("-")
        ledger.append(
            TimelineEvent(
                run=0,
                run_id=o.payday_id or "",
                event_id=0,
                at=at.astimezone(BUSINESS_TZ),
                source="ledger",
                event_type="LEDGER",
                category="external",
                actor_kind="external",
                actor="bank",
                action=f"payment.{o.status}",
                text_zh=f"{y}年{m}月失业保险金{o.amount}元：{LEDGER_STATUS_ZH.get(o.status, o.status)}"
                + (f"（发放批次{o.payday_id}）" if o.payday_id else ""),
                detail={
                    "order": o.idempotency_key,
                    "bank_ref": o.bank_ref,
                    "bank_batch": o.bank_batch,
                    "failure_code": o.failure_code,
                },
            )
        )
    out: list[TimelineEvent] = []
    pending = sorted(ledger, key=lambda e: e.at)
    for e in events:
        while pending and pending[0].at < e.at:
            out.append(pending.pop(0))
        out.append(e)
    return out + pending
