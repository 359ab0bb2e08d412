"""Rule calculators for staff over HTTP: ``GET /api/v1/policy/...`` (issue 3, item 9).

The same pure functions as the CLI (``uiflow policy ...``) and the workflows, so a calculator
never disagrees with a recorded decision. Bad input is refused with ``ApiError(422, code,
message_zh)``; amounts are decimal strings; every answer names the parameter or calendar version.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.errors import ApiError
from api.schemas import business_today
from models.rules import NearRetirementOutcome, RetirementCategory, YearMonth
from policy import calendar as cal
from policy.entitlement import benefit_amount, max_benefit_months
from policy.identity import IdentityError, parse_resident_id
from policy.money import format_amount, parse_amount
from policy.near_retirement import near_retirement
from policy.refund import premium_refund
from policy.retirement import min_contribution_months, retirement

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])

T = TypeVar("T")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _call(fn: Callable[[], T]) -> T:
    """Run a rule; a refusal (PolicyError, InvalidYearMonth) becomes a 422 with its stable code."""
    try:
        return fn()
    except ValueError as e:
        code = str(getattr(e, "code", "policy.invalid"))
        raise ApiError(422, code, str(getattr(e, "message_zh", None) or "输入不正确")) from e


def _date(text: str, field: str) -> date:
    if _DATE_RE.match(text.strip()):
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise ApiError(
        422,
        "date.invalid",
        f"日期格式应为YYYY-MM-DD，且须为存在的日期：{text}",
        fields={field: "日期格式应为YYYY-MM-DD"},
    )


def _ym(text: str, field: str) -> YearMonth:
    try:
        return YearMonth.parse(text)
    except ValueError as e:
        msg = str(getattr(e, "message_zh", "年月格式应为YYYY-MM"))
        raise ApiError(422, "yearmonth.invalid", msg, fields={field: msg}) from e


def _examples(**kw: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [kw]})


class RetirementAgeOut(BaseModel):
    model_config = _examples(
        delay_months=2,
        age_years=60,
        age_months=2,
        retirement_month="2025-10",
        original_retirement_month="2025-08",
        parameter_version="params-…",
    )
    delay_months: int
    age_years: int
    age_months: int
    retirement_month: str
    original_retirement_month: str
    parameter_version: str


class ReviewDeadlineOut(BaseModel):
    model_config = _examples(
        received="2025-01-20", deadline="2025-02-08", working_days=10, calendar_version="cn-2020-2026-…"
    )
    received: str
    deadline: str
    working_days: int
    count_receipt_day: bool
    calendar_version: str
    parameter_version: str


class WorkingDaysOut(BaseModel):
    model_config = _examples(count=248, calendar_version="cn-2020-2026-…")
    count: int
    calendar_version: str


class EntitlementOut(BaseModel):
    model_config = _examples(eligible=True, max_months=18, reason=None, reason_zh=None)
    eligible: bool
    max_months: int
    reason: str | None
    reason_zh: str | None
    parameter_version: str


class ParameterUsed(BaseModel):
    name: str
    value: str
    effective_from: str
    source: str
    status: Literal["confirmed", "unconfirmed"]


class BenefitAmountOut(BaseModel):
    model_config = _examples(amount="2156.5", rate="0.95", base="2270", confirmed=True)
    amount: str
    rate: str
    base: str
    confirmed: bool
    parameter_version: str
    parameters: list[ParameterUsed]


class MinContributionOut(BaseModel):
    model_config = _examples(months=210)
    months: int


class RefundOut(BaseModel):
    model_config = _examples(refund="280")
    refund: str


class NearRetirementOut(BaseModel):
    model_config = _examples(
        outcome="transitional_to_original_retirement",
        outcome_zh="经本人申请，继续发放至改革实施前法定退休年龄，期满后不再续发",
        pay_through="2026-03",
        pension_support_from="2025-08",
        pension_support_through="2026-03",
        requires_application=True,
    )
    outcome: NearRetirementOutcome
    outcome_zh: str
    pay_through: str | None
    pension_support_from: str | None
    pension_support_through: str | None
    requires_application: bool
    parameter_version: str


class CheckIdOut(BaseModel):
    model_config = _examples(valid=True, birth="1949-12-31", sex="female", region="110105")
    valid: bool
    birth: str | None = None
    sex: Literal["male", "female"] | None = None
    region: str | None = None
    error: str | None = None
    message: str | None = None


_CATEGORY = Query(
    description="原法定退休年龄类别：male（男60）、female-55（女55）、female-50（女50）",
    openapi_examples={"male": {"value": "male"}, "female-50": {"value": "female-50"}},
)


@router.get(
    "/retirement-age",
    summary="法定退休年龄（渐进式延迟退休）",
    description="按出生年月计算延迟月数、新的法定退休年龄和退休年月，以及改革前的退休年月。",
)
async def get_retirement_age(
    category: Annotated[RetirementCategory, _CATEGORY],
    birth: Annotated[
        str, Query(description="出生年月 YYYY-MM", openapi_examples={"天津示例": {"value": "1965-08"}})
    ],
) -> RetirementAgeOut:
    b = _ym(birth, "birth")
    r = _call(lambda: retirement(category, b))
    return RetirementAgeOut(
        delay_months=r.delay_months,
        age_years=r.age_years,
        age_months=r.age_months,
        retirement_month=str(r.retirement_month),
        original_retirement_month=str(r.original_retirement_month),
        parameter_version=r.parameter_version,
    )


@router.get(
    "/review-deadline",
    summary="失业保险金审核期限",
    description="自收到申请之日起第N个工作日（默认10个工作日，收件当日不计；可能落在调休上班的周六）。",
)
async def get_review_deadline(
    received: Annotated[
        str,
        Query(description="收到申请日期 YYYY-MM-DD", openapi_examples={"春节调休": {"value": "2025-01-20"}}),
    ],
    working_days: Annotated[
        int | None, Query(description="工作日天数，默认取参数 review.working_days", examples=[10])
    ] = None,
) -> ReviewDeadlineOut:
    d = _date(received, "received")
    rec = _call(lambda: cal.review_deadline_record(d, working_days))
    return ReviewDeadlineOut(
        received=d.isoformat(),
        deadline=rec.deadline.isoformat(),
        working_days=rec.working_days,
        count_receipt_day=rec.count_receipt_day,
        calendar_version=rec.calendar_version,
        parameter_version=rec.parameter_version,
    )


@router.get(
    "/working-days", summary="工作日天数（含首尾）", description="按国务院办公厅节假日安排（含调休）计算。"
)
async def get_working_days(
    start: Annotated[
        str,
        Query(description="开始日期 YYYY-MM-DD（含）", openapi_examples={"2025": {"value": "2025-01-01"}}),
    ],
    end: Annotated[
        str,
        Query(description="结束日期 YYYY-MM-DD（含）", openapi_examples={"2025": {"value": "2025-12-31"}}),
    ],
) -> WorkingDaysOut:
    s, e = _date(start, "start"), _date(end, "end")
    return WorkingDaysOut(
        count=_call(lambda: cal.working_days_between(s, e)), calendar_version=cal.CALENDAR_VERSION
    )


@router.get(
    "/entitlement",
    summary="最长领取失业保险金月数",
    description="累计缴费满1年不足5年12个月，满5年不足10年18个月，10年以上24个月；与前次未领月数合并，最长24个月。",
)
async def get_entitlement(
    contribution_months: Annotated[int, Query(description="累计缴费月数", examples=[60])],
    unused_months: Annotated[int, Query(description="前次应领而未领的月数", examples=[0])] = 0,
) -> EntitlementOut:
    ent = _call(lambda: max_benefit_months(contribution_months, unused_months))
    return EntitlementOut(
        eligible=ent.eligible,
        max_months=ent.max_months,
        reason=ent.reason.code if ent.reason else None,
        reason_zh=ent.reason.message_zh if ent.reason else None,
        parameter_version=ent.parameter_version,
    )


@router.get(
    "/benefit-amount",
    summary="失业保险金月发放金额",
    description=(
        "自治区一类地区月最低工资标准 × 95%（第1–12个月）或 85%（第13个月起），按发放月份适用的标准，不取整。"
    ),
)
async def get_benefit_amount(
    month_index: Annotated[int, Query(description="领金第几个月（从1开始）", examples=[1])],
    pay_month: Annotated[
        str, Query(description="发放月份 YYYY-MM", openapi_examples={"2025": {"value": "2025-03"}})
    ],
) -> BenefitAmountOut:
    pm = _ym(pay_month, "pay_month")
    b = _call(lambda: benefit_amount(month_index, pm))
    return BenefitAmountOut(
        amount=format_amount(b.amount),
        rate=format_amount(b.rate),
        base=format_amount(b.base),
        confirmed=b.confirmed,
        parameter_version=b.parameter_version,
        parameters=[
            ParameterUsed(
                name=e.name,
                value=str(e.value),
                effective_from=e.effective_from.isoformat(),
                source=e.source,
                status=e.status,
            )
            for e in b.entries
        ],
    )


@router.get(
    "/min-contribution", summary="按月领取基本养老金的最低缴费月数", description="按达到法定退休年龄的年份。"
)
async def get_min_contribution(
    retirement_year: Annotated[int, Query(description="达到法定退休年龄的年份", examples=[2034])],
) -> MinContributionOut:
    return MinContributionOut(months=_call(lambda: min_contribution_months(retirement_year)))


@router.get(
    "/refund",
    summary="医保费返还金额（单月）",
    description="返还金额不高于当地代缴标准；个人实际缴纳低于代缴标准的，按实际返还。",
)
async def get_refund(
    paid: Annotated[
        str, Query(description="个人实际缴纳金额（元）", openapi_examples={"例": {"value": "300.50"}})
    ],
    standard: Annotated[
        str, Query(description="当地代缴标准（元）", openapi_examples={"例": {"value": "280"}})
    ],
) -> RefundOut:
    p = _call(lambda: parse_amount(paid, field="个人实际缴纳金额"))
    s = _call(lambda: parse_amount(standard, field="当地代缴标准"))
    return RefundOut(refund=format_amount(premium_refund(p, s)))


@router.get(
    "/near-retirement",
    summary="临近退休人员的续发与过渡政策",
    description="领金期满时距法定退休年龄不足1年的续发至退休；2024年12月31日正在领金人员的过渡政策（发放至改革前退休年龄）。",
)
async def get_near_retirement(
    category: Annotated[RetirementCategory, _CATEGORY],
    birth: Annotated[
        str, Query(description="出生年月 YYYY-MM", openapi_examples={"示例": {"value": "1966-03"}})
    ],
    expiry: Annotated[
        str,
        Query(
            description="领金期满月份 YYYY-MM（含核定续发）", openapi_examples={"示例": {"value": "2025-05"}}
        ),
    ],
    receiving_on_2024_12_31: Annotated[
        Literal["yes", "no"], Query(description="2024年12月31日是否正在领取失业保险金（含续发）")
    ],
) -> NearRetirementOut:
    b, e = _ym(birth, "birth"), _ym(expiry, "expiry")
    nr = _call(lambda: near_retirement(category, b, e, receiving_on_2024_12_31 == "yes"))
    return NearRetirementOut(
        outcome=nr.outcome,
        outcome_zh=nr.outcome.label,
        pay_through=str(nr.pay_through) if nr.pay_through else None,
        pension_support_from=str(nr.pension_support_from) if nr.pension_support_from else None,
        pension_support_through=str(nr.pension_support_through) if nr.pension_support_through else None,
        requires_application=nr.requires_application,
        parameter_version=nr.parameter_version,
    )


class CheckIdIn(BaseModel):
    number: str = Field(description="18位公民身份号码", examples=["11010519491231002X"])


@router.post(
    "/check-id",
    summary="公民身份号码校验",
    description=(
        "校验18位公民身份号码的校验位、出生日期和地区码；号码无效时返回 valid=false 及原因。"
        "用 POST 提交，号码不出现在网址和访问日志中。"
    ),
)
async def check_id(body: CheckIdIn) -> CheckIdOut:
    try:
        rid = parse_resident_id(body.number, today=business_today())
    except IdentityError as e:
        return CheckIdOut(valid=False, error=e.code, message=e.message_zh)
    return CheckIdOut(valid=True, birth=rid.birth.isoformat(), sex=rid.sex, region=rid.region)
