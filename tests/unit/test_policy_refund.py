"""policy.refund: min(actual self-paid, local standard), month by month (notice item 4; domain.md F)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.rules import YearMonth
from policy.errors import PolicyError
from policy.refund import RefundLine, premium_refund, premium_refund_by_month, proxy_standard

D = Decimal


@pytest.mark.parametrize(
    ("paid", "standard", "refund"),
    [
        ("300.50", "280", "280"),
        ("200", "280", "200"),
        ("280", "280", "280"),
        ("0", "280", "0"),
        ("100", "0", "0"),
    ],
)
def test_refund_is_the_smaller_amount(paid: str, standard: str, refund: str) -> None:
    assert premium_refund(D(paid), D(standard)) == D(refund)


def test_bad_amounts_are_refused() -> None:
    with pytest.raises(PolicyError) as e:
        premium_refund(D("-1"), D("280"))
    assert e.value.code == "amount.negative"
    with pytest.raises(PolicyError) as e:
        premium_refund(D("NaN"), D("280"))
    assert e.value.code == "amount.invalid"
    with pytest.raises(PolicyError) as e:
        premium_refund(100.5, D("280"))  # type: ignore[arg-type]
    assert e.value.code == "amount.invalid"


amounts = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(paid=amounts, standard=amounts)
def test_refund_never_exceeds_either_input(paid: Decimal, standard: Decimal) -> None:
    r = premium_refund(paid, standard)
    assert r <= paid and r <= standard
    assert r in (paid, standard)


def test_by_month() -> None:
    ym = YearMonth.parse
    benefit = {ym("2025-03"), ym("2025-04"), ym("2025-05")}
    result = premium_refund_by_month(
        [
            RefundLine(ym("2025-04"), D("250"), D("280")),
            RefundLine(ym("2025-03"), D("300"), D("280")),
            RefundLine(ym("2025-05"), D("300"), D("280"), agency_paid=True),
            RefundLine(ym("2025-06"), D("300"), D("280")),
        ],
        benefit,
    )
    assert [str(x.month) for x in result.lines] == ["2025-03", "2025-04", "2025-05", "2025-06"]
    assert [x.refund for x in result.lines] == [D("280"), D("250"), D("0"), D("0")]
    assert [x.reason_code for x in result.lines] == [
        None,
        None,
        "refund.agency_paid",
        "refund.not_benefit_month",
    ]
    assert result.total == D("530")
    with pytest.raises(PolicyError) as e:
        premium_refund_by_month(
            [RefundLine(ym("2025-03"), D(1), D(1)), RefundLine(ym("2025-03"), D(1), D(1))], benefit
        )
    assert e.value.code == "refund.duplicate_month"


def test_local_standard_is_an_unconfirmed_parameter_without_a_value() -> None:
    with pytest.raises(PolicyError) as e:
        proxy_standard(YearMonth(2025, 3))
    assert e.value.code == "params.no_value"
