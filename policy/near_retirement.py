"""Benefit recipients near retirement (domain.md C6, C7).

Why: since the 2024 reform a person's 法定退休年龄 moved, and three national or regional rules
extend benefit (and pay pension contributions) for people whose entitlement ends within a year
of it. The order below is domain.md's encoding of C6::

    if 0 < R_new - E within the window      -> Rule 1 续发 to R_new (plus Rule 3 pension support)
    elif receiving on 2024-12-31 and 0 < R_old - E within the window
                                            -> Rule 4: on application, pay through R_old; no 续发
    else                                    -> stop at E

"Within the window" is ``< 12`` months (不足1年), or ``<= 12`` if the UNCONFIRMED parameter
``near_retirement.window_includes_boundary`` is set; Rule 4 therefore applies exactly when Rule 1
does not, which is the notice's "超过1年" read consistently with the same boundary.

The exactly-12-months edge, in domain.md C6 terms (boundary parameter false, as shipped):
``R_new - E = 12`` is not "less than 1 year" from the post-reform age, so no Rule 1 续发; it is
read as "more than 1 year" for Rule 4, so a person receiving on 2024-12-31 with ``R_old - E < 12``
may apply to be paid through ``R_old``. ``R_old - E = 12`` is not "less than 1 year" from the
pre-reform age: no Rule 4. Reading the notice's "超过1年" strictly would leave ``R_new - E = 12``
with neither rule, which the notice cannot mean (it covers everyone the reform moved past the
1-year window). "Receiving on 2024-12-31" is ``receiving_on`` below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from models.rules import NearRetirementOutcome, RetirementCategory, YearMonth
from policy.errors import PolicyError
from policy.parameters import ParameterSet, resolve
from policy.retirement import RetirementAge, retirement


@dataclass(frozen=True, slots=True)
class NearRetirement:
    """What happens at expiry ``E``, and through which month.

    ``pay_through`` is the last paid month of the extension (None when there is none).
    ``pension_support_from``/``pension_support_through`` bound the months in which, if the person
    is receiving, the UI fund pays the pension contribution (人社部发〔2024〕76号, Rule 3); the
    caller intersects them with the months actually paid. ``requires_application`` is true for the
    transitional rule (经本人申请)."""

    outcome: NearRetirementOutcome
    pay_through: YearMonth | None
    pension_support_from: YearMonth | None
    pension_support_through: YearMonth | None
    requires_application: bool
    months_to_retirement: int
    months_to_original_retirement: int
    retirement: RetirementAge
    parameter_version: str


def receiving_on(day: date, paid_months: Iterable[YearMonth]) -> bool:
    """Whether the person was "正在领取失业保险金（含续发）" on ``day`` (notice item 三; domain.md C6
    Rule 4: "the person was receiving benefits on 2024-12-31").

    Receiving means *paid for* the calendar month containing ``day``: a benefit month, ordinary or
    续发 (continuation), was paid for that month. Being registered is not enough (a period whose
    first month is later, or a claim not yet approved), and a month held by a suspension and moved
    on was not paid for that month. ``paid_months`` are the calendar months paid for (their
    ``pay_month``), whenever the money went out: December 2024 paid in January 2025 still counts.

    The exactly-12-months edge (domain.md A2, A4 in month terms): a 12-month entitlement whose
    first month is 2024-01 (registered in January 2024) runs 2024-01 to 2024-12, is paid for
    December, and so was receiving on 2024-12-31. One whose first month is 2023-12 runs 2023-12 to
    2024-11 and was not, although it was registered less than 13 months before: the benefit
    period counts from the day of registration (A4) and is paid month by month, so its twelfth
    month is November. The same reading holds for 24 months, and for 续发 months after them.
    """
    month = YearMonth.of(day)
    return any(m == month for m in paid_months)


def near_retirement(
    category: RetirementCategory | str,
    birth: YearMonth,
    expiry: YearMonth,
    receiving_on_2024_12_31: bool,
    params: ParameterSet | None = None,
) -> NearRetirement:
    """Apply C6 Rules 1, 3 and 4 to an entitlement that ends in ``expiry`` (the last paid month of
    the ordinary entitlement, including approved 续发)."""
    if not isinstance(expiry, YearMonth):
        raise PolicyError("near_retirement.expiry_invalid", "领金期满月份应为YYYY-MM")
    p = resolve(params)
    r = retirement(category, birth, p)
    window = p.integer("near_retirement.window_months", None)
    inclusive = p.flag("near_retirement.window_includes_boundary", None)
    pay_r_month = p.flag("near_retirement.pay_retirement_month", None)

    def within(gap: int) -> bool:
        return 0 < gap < window or (inclusive and gap == window)

    def last_paid(ret: YearMonth) -> YearMonth:
        return ret if pay_r_month else ret - 1

    gap_new = r.retirement_month - expiry
    gap_old = r.original_retirement_month - expiry
    outcome = NearRetirementOutcome.NONE
    pay_through: YearMonth | None = None
    if within(gap_new) and last_paid(r.retirement_month) > expiry:
        outcome = NearRetirementOutcome.CONTINUE_TO_RETIREMENT
        pay_through = last_paid(r.retirement_month)
    elif (
        receiving_on_2024_12_31
        and gap_new > 0
        and within(gap_old)
        and last_paid(r.original_retirement_month) > expiry
    ):
        outcome = NearRetirementOutcome.TRANSITIONAL_TO_ORIGINAL_RETIREMENT
        pay_through = last_paid(r.original_retirement_month)

    # Rule 3: months within the window before R_new, inside 2025-01..2039-12, while paid.
    first_support = p.year_month("pension_support.first_month", None)
    last_support = p.year_month("pension_support.last_month", None)
    window_start = r.retirement_month - (window if inclusive else window - 1)
    paid_until = pay_through if pay_through is not None else min(expiry, last_paid(r.retirement_month))
    s_from = max(window_start, first_support)
    s_through = min(paid_until, last_paid(r.retirement_month), last_support)
    support = s_from <= s_through

    return NearRetirement(
        outcome=outcome,
        pay_through=pay_through,
        pension_support_from=s_from if support else None,
        pension_support_through=s_through if support else None,
        requires_application=outcome is NearRetirementOutcome.TRANSITIONAL_TO_ORIGINAL_RETIREMENT,
        months_to_retirement=gap_new,
        months_to_original_retirement=gap_old,
        retirement=r,
        parameter_version=p.version,
    )
