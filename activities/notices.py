"""Issuing official notices: one template per kind (``models/notice.py``), rendered to a PDF with
the CJK font embedded (``core/notice_pdf.py``), stored by its SHA-256 beside the uploaded documents
and recorded on the case (table ``notice``) with the check code printed on it.

Why one activity for every kind: the workflow knows the facts at the deciding step and only says
which notice; the wording, the agency, the remedies (``policy/notices.py``) and the check code
are the same mechanics for a claim, a period, a subsidy or a refund. A new case type issues its
notices with ``CaseWorkflowBase.issue_notice`` and, for a new kind, one template function below.

Idempotent: the notice's id is a hash of (case, issue key). A retried activity, or a replayed
workflow, finds the row it wrote and returns it; the same request renders the same bytes.

Rendered on first use: the activity records the worded layout (a snapshot, fixed at the deciding
step) and the PDF is made from it when first downloaded or verified (``core.notice_store.rendered``)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gov import GovClients
from core import documents
from core.db import Database
from core.notice_pdf import FontMissing, NoticeLayout, find_font, render
from core.notice_store import layout_json
from core.parameters import parameters_in_force
from core.settings import Settings
from models.notice import ADVERSE_KINDS, VERIFY_PATH, NoticeIssued, NoticeKind, NoticeRequest, date_zh
from models.tables import Notice
from policy.notices import agency_name, remedies, where_to_ask
from policy.parameters import ParameterSet, resolve

TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Body:
    """What a template words: the paragraphs and the table rows (label, value)."""

    paragraphs: list[str]
    rows: list[tuple[str, str]] = field(default_factory=list)


class MissingFact(KeyError):
    """A template needs a fact the workflow did not send: a programming error (the case blocks)."""


class _Facts:
    def __init__(self, facts: dict[str, str]) -> None:
        self._facts = facts

    def __getitem__(self, name: str) -> str:
        try:
            return self._facts[name]
        except KeyError:
            raise MissingFact(name) from None

    def get(self, name: str, default: str = "") -> str:
        return self._facts.get(name, default)


def _claim_receipt(f: _Facts, req: NoticeRequest) -> Body:
    return Body(
        [
            f"您于{f['received_on']}通过{f['channel']}提出的失业保险金申领，本机构已受理。本机构将自确认您办理"
            f"失业登记之日起{f['review_days']}个工作日内审核完毕，并将审核结果书面告知您。",
            "审核期间如需补正材料，本机构将一次性告知。",
        ],
        [
            ("申请事项", "失业保险金申领"),
            ("受理日期", f["received_on"]),
            ("提交材料", f.get("documents") or "无"),
        ],
    )


def _documents_request(f: _Facts, req: NoticeRequest) -> Body:
    return Body(
        [
            "经审核，您申领失业保险金提交的材料尚不齐全。现将需要补正的全部材料一次性告知如下：",
            f"请于{f['wait_days']}日内通过网上办事大厅或到本机构服务窗口提交上述材料。材料补正齐全之日起重新计算"
            "审核时限；逾期未补正的，本次申请办结，您可另行申请。",
        ],
        [(f"第{i}项", r.value) for i, r in enumerate(req.rows, start=1)],
    )


def _claim_not_approved(f: _Facts, req: NoticeRequest) -> Body:
    return Body(
        [
            f"您于{f['received_on']}提出的失业保险金申领，经审核，不予核准。",
            f"理由：{f['reason']}。",
            f"处置方式：{f['remedy']}",
            f"如情况发生变化，可在{f['reapply_days']}日内重新申请，本机构将重新审核。",
        ]
    )


def _claim_not_accepted(f: _Facts, req: NoticeRequest) -> Body:
    return Body(
        [
            f"您于{f['received_on']}提出的失业保险金申领，本机构决定不予受理。",
            f"理由：{f['reason']}。",
            "办理失业登记后，您可以重新申请。",
        ]
    )


def _benefit_approved(f: _Facts, req: NoticeRequest) -> Body:
    return Body(
        [
            f"您于{f['received_on']}提出的失业保险金申领，经审核符合领取条件。根据您累计缴纳失业保险费"
            f"{f['contribution_months']}个月，核定您领取失业保险金{f['months']}个月，自{f['first_month']}起"
            f"至{f['last_month']}止，按月发放至您本人的银行账户，每月金额见下表。",
            "领取期间，本机构为您统一办理职工基本医疗保险参保缴费。重新就业、应征服兵役、移居境外、享受基本养老"
            "保险待遇等情形应停止领取的，请及时告知本机构。",
        ],
        [("领取月份", "每月金额"), *((r.label, r.value) for r in req.rows)],
    )


def _benefit_stopped(f: _Facts, req: NoticeRequest) -> Body:
    paras = [
        f"经核实，您因{f['reason']}（{f['on']}），依据{f['legal_basis']}，自{f['from_month']}起停止发放失业保险金，"
        "并停止代缴职工基本医疗保险费。",
    ]
    if f.get("months_left"):
        paras.append(f"您尚有{f['months_left']}个月失业保险金未领取，再次失业时可与新核定的期限合并计算。")
    return Body(paras)


def _subsidy_approved(f: _Facts, req: NoticeRequest) -> Body:
    return Body(
        [
            f"您于{f['applied_on']}申请的技能提升补贴，经审核符合条件，核定补贴金额{f['amount']}元，"
            "发放至您本人的银行账户。",
        ],
        [
            ("证书编号", f["certificate"]),
            ("职业（工种）", f["occupation"]),
            ("等级", f["level"]),
            ("补贴金额", f"{f['amount']}元"),
        ],
    )


def _subsidy_not_approved(f: _Facts, req: NoticeRequest) -> Body:
    return Body(
        [
            f"您于{f['applied_on']}申请的技能提升补贴，经审核，不予核准。",
            f"理由：{f['reason']}。",
            *([f"处置方式：{f['remedy']}"] if f.get("remedy") else []),
        ],
        [("证书编号", f["certificate"])] if f.get("certificate") else [],
    )


def _refund_receipt(f: _Facts, req: NoticeRequest) -> Body:
    return Body(
        [
            f"您于{f['received_on']}通过{f['channel']}提出的职工医疗保险费返还申请（{f['basis']}），本机构已受理。"
            "本机构将与医疗保险经办机构核对您的个人缴费记录后审核，并将审核结果书面告知您。",
            "每月返还金额按您实际缴纳的金额与当月代缴标准中较低者核定；本机构已为您代缴的月份不予返还。",
        ],
        [
            ("申请事项", "职工医疗保险费返还"),
            ("受理日期", f["received_on"]),
            ("申报月份", f.get("months") or "以医保记录为准"),
            ("缴费凭证", f"{f['receipts']}份"),
        ],
    )


def _refund_approved(f: _Facts, req: NoticeRequest) -> Body:
    return Body(
        [
            f"您于{f['applied_on']}申请返还领取失业保险金期间本人实际缴纳的职工医疗保险费，经审核，"
            f"核定返还{f['amount']}元（返还金额不高于当地代缴标准），发放至您本人的银行账户。",
        ],
        [("月份", "返还金额"), *((r.label, r.value) for r in req.rows)],
    )


def _refund_not_approved(f: _Facts, req: NoticeRequest) -> Body:
    return Body(
        [
            f"您于{f['applied_on']}申请返还职工医疗保险费，经审核，不予返还。",
            f"理由：{f['reason']}。",
            *([f"处置方式：{f['remedy']}"] if f.get("remedy") else []),
            *(
                [f"如补齐材料，可在{f['reapply_days']}日内重新申请，本机构将重新审核。"]
                if f.get("reapply_days")
                else []
            ),
        ]
    )


TEMPLATES: dict[NoticeKind, Callable[[_Facts, NoticeRequest], Body]] = {
    NoticeKind.CLAIM_RECEIPT: _claim_receipt,
    NoticeKind.DOCUMENTS_REQUEST: _documents_request,
    NoticeKind.CLAIM_NOT_APPROVED: _claim_not_approved,
    NoticeKind.CLAIM_NOT_ACCEPTED: _claim_not_accepted,
    NoticeKind.BENEFIT_APPROVED: _benefit_approved,
    NoticeKind.BENEFIT_STOPPED: _benefit_stopped,
    NoticeKind.SUBSIDY_APPROVED: _subsidy_approved,
    NoticeKind.SUBSIDY_NOT_APPROVED: _subsidy_not_approved,
    NoticeKind.REFUND_RECEIPT: _refund_receipt,
    NoticeKind.REFUND_APPROVED: _refund_approved,
    NoticeKind.REFUND_NOT_APPROVED: _refund_not_approved,
}


def notice_id(case_id: str, issue_key: str) -> str:
    return hashlib.sha256(f"{case_id}\x00{issue_key}".encode()).hexdigest()[:32]


def check_code(secret: str, case_id: str, issue_key: str) -> str:
    """80 bits of an HMAC over the case and the step, in four groups of base32: unguessable, and
    the same on every retry (no state needed before the row exists)."""
    mac = hmac.new(secret.encode(), f"notice-check\x00{case_id}\x00{issue_key}".encode(), hashlib.sha256)
    code = base64.b32encode(mac.digest()[:10]).decode()
    return "-".join(code[i : i + 4] for i in range(0, 16, 4))


def local_day(at: datetime) -> date:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(TZ).date()


def verify_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}{VERIFY_PATH}/{code}"


def build_layout(
    req: NoticeRequest,
    *,
    secret: str,
    base_url: str,
    params: ParameterSet | None = None,
) -> NoticeLayout:
    """What ``req`` prints, worded with the parameters in force on the issuing day (cheap: no PDF).
    This is the snapshot kept at decision time; the PDF is made from it, later, unchanged."""
    day = local_day(req.issued_at)
    p = resolve(params)
    # Figures every notice may quote, from the parameters in force on the issuing day.
    defaults = {"review_days": str(p.integer("review.working_days", day))}
    body = TEMPLATES[req.kind](_Facts(defaults | req.facts), req)
    code = check_code(secret, req.case_id, req.issue_key)
    nid = notice_id(req.case_id, req.issue_key)
    return NoticeLayout(
        agency=agency_name(req.region_code, day, params),
        title=req.kind.label_zh,
        notice_no=f"{req.region_code}-{day:%Y%m%d}-{nid[:6].upper()}",
        addressee=f"{req.person_name}（公民身份号码：{req.person_id_masked}）：",
        paragraphs=body.paragraphs,
        rows=body.rows,
        remedies=remedies(req.region_code, day, params).text_zh() if req.kind in ADVERSE_KINDS else "",
        closing=where_to_ask(req.region_code, day, params),
        case_id=req.case_id,
        issued_at=req.issued_at,
        date_zh=date_zh(day),
        check_code=code,
        verify_url=verify_url(base_url, code),
    )


def build_notice(
    req: NoticeRequest,
    *,
    secret: str,
    base_url: str,
    font_setting: str = "",
    params: ParameterSet | None = None,
) -> tuple[bytes, NoticeLayout]:
    """The PDF of ``req`` and what it prints (no database; unit-tested per template)."""
    layout = build_layout(req, secret=secret, base_url=base_url, params=params)
    return render(layout, find_font(font_setting)), layout


def issued(row: Notice, base_url: str) -> NoticeIssued:
    return NoticeIssued(
        notice_id=row.id,
        case_id=row.case_id,
        kind=NoticeKind(row.kind),
        title=row.title,
        notice_no=row.notice_no,
        check_code=row.check_code,
        sha256=row.sha256 or "",
        size=row.size or 0,
        verify_url=verify_url(base_url, row.check_code),
    )


class NoticeActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov

    @activity.defn
    async def issue_notice(self, req: NoticeRequest) -> NoticeIssued:
        """Word, snapshot and record one notice; a second call for the same (case, key) returns the
        first. The PDF is not made here: fpdf2 with the CJK subset costs about a second of CPU,
        which the case's path does not need (the person is sent the check code, not the file); it
        is made from the snapshot on first download or verification (``core.notice_store``). So
        ``sha256`` and ``size`` of the answer are empty. A missing font or fact still fails here,
        for good: the case waits for operations rather than issue a notice that cannot be printed."""
        base = self.settings.public_base_url
        nid = notice_id(req.case_id, req.issue_key)
        async with self.db.session() as s:
            row = await s.get(Notice, nid)
            if row is not None:
                return issued(row, base)
        params = parameters_in_force(self.settings.params_dir)
        try:
            find_font(self.settings.notice_font)
            secret = self.settings.applicant_key_secret
            layout = build_layout(req, secret=secret, base_url=base, params=params)
        except FontMissing as e:
            raise ApplicationError(str(e), type="notice.font_missing", non_retryable=True) from e
        except MissingFact as e:
            raise ApplicationError(
                f"notice fact missing: {e}", type="notice.template", non_retryable=True
            ) from e
        _, layout_key = await asyncio.to_thread(
            documents.store, self.settings.effective_documents_dir, layout_json(layout)
        )
        row = Notice(
            id=nid,
            case_id=req.case_id,
            issue_key=req.issue_key,
            kind=req.kind.value,
            title=layout.title,
            notice_no=layout.notice_no,
            check_code=layout.check_code,
            region_code=req.region_code,
            layout_key=layout_key,
            issued_at=req.issued_at,
        )
        async with self.db.session() as s:
            s.add(row)
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()
                existing = await s.get(Notice, nid)
                if existing is None:
                    raise
                return issued(existing, base)
        return issued(row, base)


ACTIVITY_CLASSES = [NoticeActivities]
