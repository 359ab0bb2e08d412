"""Refund of medical premiums a recipient paid himself (notice item 4; domain.md F).

Why: where the agency could not enrol a recipient (e.g. already insured as a flexible worker),
it refunds, month by month for benefit months in which its own payment failed, what the person
actually paid, but never more than the local on-behalf (代缴) standard:
``refund = min(actual_self_paid, local_standard)``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from models.rules import YearMonth
from policy.errors import PolicyError
from policy.money import require_amount
from policy.parameters import ParameterSet, resolve


def premium_refund(paid: Decimal, standard: Decimal) -> Decimal:
    """One month's refund: the smaller of what was paid and the local standard (notice item 4:
    "返还金额不得高于当地代缴标准；个人实际缴纳费用低于当地代缴标准的，按实际返还")."""
    p = require_amount(paid, field="个人实际缴纳金额")
    s = require_amount(standard, field="当地代缴标准")
    return min(p, s)


def proxy_standard(month: YearMonth, params: ParameterSet | None = None) -> Decimal:
    """The local monthly on-behalf standard for ``month`` (parameter ``medical.proxy_standard_monthly``,
    UNCONFIRMED and supplied by the 医保 bureau: refuses with ``params.no_value`` until set)."""
    return resolve(params).decimal("medical.proxy_standard_monthly", month.first_day())


@dataclass(frozen=True, slots=True)
class RefundLine:
    """One month's facts: what the person paid, the local standard, and whether the agency's own
    payment for that month succeeded (then nothing is refunded)."""

    month: YearMonth
    paid: Decimal
    standard: Decimal
    agency_paid: bool = False


@dataclass(frozen=True, slots=True)
class RefundLineResult:
    month: YearMonth
    paid: Decimal
    standard: Decimal
    refund: Decimal
    reason_code: str | None  # why nothing is refunded, when refund is 0 for a rule reason
    reason_zh: str | None


@dataclass(frozen=True, slots=True)
class RefundResult:
    lines: tuple[RefundLineResult, ...]
    total: Decimal


def premium_refund_by_month(
    lines: Iterable[RefundLine], benefit_months: Collection[YearMonth]
) -> RefundResult:
    """Refund month by month for benefit months only; a month listed twice is refused."""
    seen: set[YearMonth] = set()
    out: list[RefundLineResult] = []
    for line in sorted(lines, key=lambda x: x.month):
        if line.month in seen:
            raise PolicyError("refund.duplicate_month", f"同一月份重复申报：{line.month}")
        seen.add(line.month)
        paid = require_amount(line.paid, field="个人实际缴纳金额")
        standard = require_amount(line.standard, field="当地代缴标准")
        code: str | None = None
        text: str | None = None
        if line.month not in benefit_months:
            code, text = "refund.not_benefit_month", "该月不在领取失业保险金期间，不予返还"
        elif line.agency_paid:
            code, text = "refund.agency_paid", "该月经办机构已代缴成功，不予返还"
        refund = Decimal(0) if code else premium_refund(paid, standard)
        out.append(RefundLineResult(line.month, paid, standard, refund, code, text))
    return RefundResult(lines=tuple(out), total=sum((x.refund for x in out), Decimal(0)))


@dataclass(frozen=True, slots=True)
class YearEndWindow:
    """When refunds for a contribution year may be claimed: from the day after the year ends,
    for ``refund.application_window_months`` months; its months are the year's twelve."""

    year: int
    year_end: date
    apply_from: date
    apply_until: date
    months: tuple[YearMonth, ...]


def contribution_year_end(year: int, params: ParameterSet | None = None) -> date:
    """The last day of the medical-insurance contribution year ``year`` (parameter
    ``refund.contribution_year_end``, ``MM-DD``, UNCONFIRMED: assumed to be 31 December)."""
    p = resolve(params)
    text = str(p.value("refund.contribution_year_end", date(year, 1, 1)))
    try:
        month, day = (int(x) for x in text.split("-"))
        return date(year, month, day)
    except ValueError as e:
        raise PolicyError("params.type", "参数“refund.contribution_year_end”应为MM-DD") from e


def year_end_window(year: int, params: ParameterSet | None = None) -> YearEndWindow:
    p = resolve(params)
    end = contribution_year_end(year, p)
    start = contribution_year_end(year - 1, p) + timedelta(days=1)
    first = YearMonth.of(start)
    last = YearMonth.of(end)
    months: list[YearMonth] = []
    m = first
    while m <= last:
        months.append(m)
        m = m + 1
    apply_from = end + timedelta(days=1)
    window = p.integer("refund.application_window_months", apply_from)
    until = (YearMonth.of(apply_from) + window).first_day() - timedelta(days=1)
    return YearEndWindow(year, end, apply_from, max(until, apply_from), tuple(months))


def last_ended_year(as_of: date, params: ParameterSet | None = None) -> int:
    """The most recent contribution year that has ended on or before ``as_of``."""
    p = resolve(params)
    year = as_of.year
    while contribution_year_end(year, p) >= as_of:
        year -= 1
    return year
