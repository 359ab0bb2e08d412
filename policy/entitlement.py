"""Benefit entitlement: eligibility, duration, carry-over, start and monthly amount (domain.md A1–A5, B).

Why one place: the claim workflow decides eligibility and the period workflow pays month by
month for up to 24 months and beyond; both must apply the same brackets, rates and base.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from models.rules import StopCondition, YearMonth
from policy.errors import PolicyError
from policy.parameters import ParameterEntry, ParameterSet, bracket_lookup, resolve

__all__ = [
    "BenefitAmount",
    "Eligibility",
    "Entitlement",
    "PreviousSpell",
    "Reason",
    "StopCondition",
    "assess_eligibility",
    "benefit_amount",
    "benefit_months",
    "benefit_start",
    "contribution_months_afresh",
    "max_benefit_months",
]


@dataclass(frozen=True, slots=True)
class Reason:
    """A failing condition: stable ``code`` and Chinese ``message_zh`` to tell the applicant
    (人社厅发〔2024〕60号 item 一: a rejection states the reason and what to do)."""

    code: str
    message_zh: str


CONTRIBUTION_SHORT = Reason(
    "eligibility.contribution_short",
    "累计缴纳失业保险费不满1年，不符合领取失业保险金条件（社会保险法第四十五条）",
)
NOT_INVOLUNTARY = Reason(
    "eligibility.not_involuntary",
    "非因本人意愿中断就业的条件不满足；如停保原因登记有误，可申请变更停保原因（社会保险法第四十五条）",
)
NOT_REGISTERED = Reason(
    "eligibility.not_registered", "尚未办理失业登记，请通过线上或线下渠道办理失业登记（社会保险法第四十五条）"
)


@dataclass(frozen=True, slots=True)
class Eligibility:
    """All three conditions of 社保法 Art. 45 must hold; ``reasons`` lists every one that fails."""

    eligible: bool
    reasons: tuple[Reason, ...]
    parameter_version: str


@dataclass(frozen=True, slots=True)
class Entitlement:
    """Maximum benefit months for this spell, carry-over included (domain.md A2, A3)."""

    eligible: bool
    max_months: int
    reason: Reason | None
    bracket_months: int
    carried_over_months: int
    parameter_version: str


@dataclass(frozen=True, slots=True)
class BenefitAmount:
    """The 失业保险金 for benefit month ``month_index`` paid for ``pay_month`` (domain.md B1).

    ``amount = base × rate`` exactly (no rounding: the published figures keep 0.5 元, B4).
    ``entries`` are the parameter values used, with their sources and status, for the audit
    record; ``confirmed`` is false when any of them is UNCONFIRMED."""

    month_index: int
    pay_month: YearMonth
    amount: Decimal
    rate: Decimal
    base: Decimal
    parameter_version: str
    entries: tuple[ParameterEntry, ...] = field(default=())

    @property
    def confirmed(self) -> bool:
        return all(e.confirmed for e in self.entries)


def _non_negative(value: int, code: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(code, f"{what}应为整数")
    if value < 0:
        raise PolicyError(code, f"{what}不能为负数：{value}")
    return value


def assess_eligibility(
    contribution_months: int,
    involuntary: bool,
    registered: bool,
    *,
    as_of: date | None = None,
    params: ParameterSet | None = None,
) -> Eligibility:
    """The three conditions of 社保法 Art. 45 / 条例 Art. 14 (domain.md A1): at least one year of
    contributions (cumulative across pooling areas, Art. 52), involuntary separation, and
    unemployment registration. ``as_of`` None reads the latest parameter value."""
    months = _non_negative(contribution_months, "eligibility.months_invalid", "累计缴费月数")
    p = resolve(params)
    reasons: list[Reason] = []
    if months < p.integer("entitlement.min_contribution_months", as_of):
        reasons.append(CONTRIBUTION_SHORT)
    if not involuntary:
        reasons.append(NOT_INVOLUNTARY)
    if not registered:
        reasons.append(NOT_REGISTERED)
    return Eligibility(eligible=not reasons, reasons=tuple(reasons), parameter_version=p.version)


def max_benefit_months(
    contribution_months: int,
    unused_months: int = 0,
    *,
    as_of: date | None = None,
    params: ParameterSet | None = None,
) -> Entitlement:
    """Maximum months: 12 / 18 / 24 for [1, 5) / [5, 10) / 10+ years of cumulative contribution
    (社保法 Art. 46: "满1年不足5年…满5年不足10年…10年以上", so 60 months gives 18 and 120 gives 24),
    plus the months left unused from an earlier spell, capped at 24 (domain.md A2, A3).

    With less than a year of new contribution the person is not eligible and ``max_months`` is 0.
    Whether unused months from an earlier spell remain payable in that case is not in domain.md
    (UNCONFIRMED), so no carry-over is granted without the 1-year condition.
    """
    months = _non_negative(contribution_months, "entitlement.months_invalid", "累计缴费月数")
    unused = _non_negative(unused_months, "entitlement.unused_invalid", "前次未领月数")
    p = resolve(params)
    bracket = bracket_lookup(p.brackets("entitlement.duration_brackets", as_of), months)
    if months < p.integer("entitlement.min_contribution_months", as_of) or not bracket:
        return Entitlement(
            eligible=False,
            max_months=0,
            reason=CONTRIBUTION_SHORT,
            bracket_months=0,
            carried_over_months=0,
            parameter_version=p.version,
        )
    cap = p.integer("entitlement.carryover_cap_months", as_of)
    total = min(cap, bracket + unused)
    return Entitlement(
        eligible=True,
        max_months=total,
        reason=None,
        bracket_months=bracket,
        carried_over_months=total - bracket,
        parameter_version=p.version,
    )


@dataclass(frozen=True, slots=True)
class PreviousSpell:
    """The person's previous benefit spell, as far as it bears on a new one (domain.md A3).

    ``first_month`` is the previous spell's first benefit month (its start, 社保法 Art. 50);
    ``cumulative_at_start`` is the cumulative contribution months the previous claim's checks read
    (None for a spell recorded before this was kept, or imported without it)."""

    first_month: YearMonth
    cumulative_at_start: int | None = None


def contribution_months_afresh(
    cumulative_months: int,
    previous: PreviousSpell | None,
    paid_months: Sequence[YearMonth] = (),
) -> int:
    """The contribution time that counts toward a new spell's bracket (domain.md A3: "if the
    person finds work again and later loses it again, the contribution time is counted afresh").

    - No previous spell: the cumulative months (A1, A2; Art. 52 sums pooling areas).
    - A previous spell: only months contributed *after* its first benefit month count. The first
      month itself does not: the registration that started it came after the job loss, so a
      contribution in that month belongs to the job before.
      * When the previous claim recorded the cumulative months it read, the new time is the
        difference (exact whatever the age of the previous spell).
      * Otherwise the paid months of the monthly record (``paid_months``: the contribution
        system returns the last 36 months) are counted, which is exact when the record reaches
        back to the previous spell's first month, and a lower bound when it does not (a spell
        older than the record: the reviewer sees the counted months on the check report).

    Example (issue 14): four years contributed, a 12-month spell used up, then 18 months of new
    work: 18 months count, not 66, so the bracket is 12 (not 18), plus 0 unused months.
    """
    cum = _non_negative(cumulative_months, "entitlement.months_invalid", "累计缴费月数")
    if previous is None:
        return cum
    if previous.cumulative_at_start is not None:
        return max(0, cum - previous.cumulative_at_start)
    return min(cum, sum(1 for m in set(paid_months) if m > previous.first_month))


def benefit_start(registration_date: date) -> date:
    """The benefit period runs from the day of 失业登记 (社保法 Art. 50; 条例 Art. 16; domain.md A4)."""
    return registration_date


def benefit_months(first_month: YearMonth, max_months: int) -> list[YearMonth]:
    """The pay months of an entitlement, one per month from the first (条例 Art. 16: paid monthly)."""
    n = _non_negative(max_months, "entitlement.months_invalid", "领金月数")
    return [first_month + i for i in range(n)]


def benefit_amount(
    month_index: int, pay_month: YearMonth, params: ParameterSet | None = None
) -> BenefitAmount:
    """The monthly 失业保险金 (政府令第268号 Art. 7; domain.md B1, B2).

    ``month_index`` is the benefit month (1 = first): months 1–12 at the higher rate (95% since
    2024-08-01), month 13 on at the lower (85%). The base is the 自治区 Category-1 minimum wage in
    force for the pay month, the same everywhere in the region. A minimum-wage change applies
    from its month to people already receiving (assumption of B4, UNCONFIRMED), and months beyond
    12 under the near-retirement rules pay at the lower rate (B4, UNCONFIRMED). How month 13 is
    counted across a carry-over is the caller's choice (B4).
    """
    if isinstance(month_index, bool) or not isinstance(month_index, int) or month_index < 1:
        raise PolicyError("benefit.month_index_invalid", f"领金月序号应为从1开始的正整数：{month_index}")
    if not isinstance(pay_month, YearMonth):
        raise PolicyError("benefit.pay_month_invalid", "发放月份应为YYYY-MM")
    p = resolve(params)
    as_of = pay_month.first_day()
    base_e = p.entry("minimum_wage.category1_monthly", as_of)
    split_e = p.entry("benefit.higher_rate_months", as_of)
    split = p.integer("benefit.higher_rate_months", as_of)
    rate_name = "benefit.rate.months_1_to_12" if month_index <= split else "benefit.rate.month_13_on"
    rate_e = p.entry(rate_name, as_of)
    base = p.decimal("minimum_wage.category1_monthly", as_of)
    rate = p.decimal(rate_name, as_of)
    return BenefitAmount(
        month_index=month_index,
        pay_month=pay_month,
        amount=base * rate,
        rate=rate,
        base=base,
        parameter_version=p.version,
        entries=(base_e, rate_e, split_e),
    )
