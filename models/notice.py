"""Official notices (受理回执, 补正材料一次性告知书, 不予受理/不予核准决定书, 待遇核定通知书, 停发通知书,
subsidy and refund decisions): the shapes a workflow hands to the issuing activity and gets back.

A workflow issues a notice at the step that decides (``CaseWorkflowBase.issue_notice``); the
activity (``activities/notices.py``) renders the kind's template to a PDF with the CJK font
embedded, stores it with its SHA-256 on the case (table ``notice``) and returns the check code
printed on it, which the person quotes or scans (QR) at the public verify page. ``issue_key`` is
unique per case: a retried or replayed step finds the notice it issued instead of a second one.

Facts are strings as printed (amounts already formatted from Decimal by the workflow's models);
each kind's template names the facts it needs and refuses a request that lacks one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from models.enums import StageEnum
from models.rules import YearMonth

#: Where the public verify page lives (``api/routes/notices.py``); printed on each notice.
VERIFY_PATH = "/verify"
#: A check code as printed: four groups of four base32 characters (80 bits, unguessable).
CHECK_CODE_PATTERN = r"^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$"


class NoticeKind(StageEnum):
    """Each kind with the title printed on the notice."""

    CLAIM_RECEIPT = "claim_receipt", "失业保险金申领受理回执"
    DOCUMENTS_REQUEST = "documents_request", "补正材料一次性告知书"
    CLAIM_NOT_ACCEPTED = "claim_not_accepted", "失业保险金申领不予受理决定书"
    CLAIM_NOT_APPROVED = "claim_not_approved", "失业保险金申领不予核准决定书"
    BENEFIT_APPROVED = "benefit_approved", "失业保险待遇核定通知书"
    BENEFIT_STOPPED = "benefit_stopped", "失业保险金停发通知书"
    SUBSIDY_APPROVED = "subsidy_approved", "技能提升补贴核定通知书"
    SUBSIDY_NOT_APPROVED = "subsidy_not_approved", "技能提升补贴不予核准决定书"
    REFUND_RECEIPT = "refund_receipt", "职工医疗保险费返还申请受理回执"
    REFUND_APPROVED = "refund_approved", "职工医疗保险费返还决定书"
    REFUND_NOT_APPROVED = "refund_not_approved", "职工医疗保险费不予返还决定书"


#: Adverse decisions: their notice states the remedies (行政复议, 行政诉讼) and where to go.
ADVERSE_KINDS = frozenset(
    {
        NoticeKind.CLAIM_NOT_ACCEPTED,
        NoticeKind.CLAIM_NOT_APPROVED,
        NoticeKind.BENEFIT_STOPPED,
        NoticeKind.SUBSIDY_NOT_APPROVED,
        NoticeKind.REFUND_NOT_APPROVED,
    }
)


class NoticeRow(BaseModel):
    """One line of a notice's table (a benefit month and its amount, a refunded month...)."""

    label: str = Field(max_length=64)
    value: str = Field(max_length=200)


def date_zh(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def month_zh(m: YearMonth) -> str:
    return f"{m.year}年{m.month}月"


def money_zh(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}元"


def month_rows(months: Iterable[tuple[YearMonth, Decimal]]) -> list[NoticeRow]:
    """A schedule as table rows, consecutive months of the same amount on one row
    (2026年12月至2027年5月（6个月） | 2270.00元), so a 24-month period fits on the page."""
    rows: list[NoticeRow] = []
    run: list[tuple[YearMonth, Decimal]] = []

    def flush() -> None:
        if not run:
            return
        first, last, amount = run[0][0], run[-1][0], run[0][1]
        label = month_zh(first) if len(run) == 1 else f"{month_zh(first)}至{month_zh(last)}（{len(run)}个月）"
        rows.append(NoticeRow(label=label, value=money_zh(amount)))
        run.clear()

    for month, amount in months:
        if run and (amount != run[-1][1] or month != run[-1][0] + 1):
            flush()
        run.append((month, amount))
    flush()
    return rows


class NoticeRequest(BaseModel):
    """What the workflow knows at the deciding step. Carries the person's name and phone: sealed
    by the payload codec like every payload, never logged."""

    case_id: str
    issue_key: str = Field(min_length=1, max_length=64, examples=["r1:rejected"])
    kind: NoticeKind
    region_code: str = Field(pattern=r"^15\d{4}$")
    issued_at: datetime  # workflow.now(): a retry renders the same document
    person_name: str = Field(max_length=64)
    person_id_masked: str = Field(max_length=18)
    facts: dict[str, str] = Field(default_factory=dict)
    rows: list[NoticeRow] = Field(default_factory=list)


class NoticeIssued(BaseModel):
    """The stored notice: the text the person is sent quotes ``title`` and ``check_code``."""

    notice_id: str
    case_id: str
    kind: NoticeKind
    title: str
    notice_no: str
    check_code: str
    sha256: str
    size: int
    verify_url: str

    def sms_zh(self) -> str:
        """The sentence appended to the message that tells the person of the decision."""
        return (
            f"《{self.title}》（文书编号{self.notice_no}）已出具，核验码{self.check_code}，"
            f"可在{self.verify_url}查验。"
        )
