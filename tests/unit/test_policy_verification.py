"""The fine of 社保法 Art. 88 and the repayment schedule of a verification case, as tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from policy.errors import PolicyError
from policy.verification import fine_amount, repayment_schedule

D = Decimal
ON = date(2027, 3, 1)


@pytest.mark.parametrize(
    ("obtained", "multiple", "amount"),
    [
        (D("5640.00"), D("2"), D("11280.00")),
        (D("5640.00"), D("5"), D("28200.00")),
        (D("5640.00"), D("3"), D("16920.00")),
        (D("1881.35"), D("2.5"), D("4703.38")),  # half up to the cent
        (D("0.01"), D("2"), D("0.02")),
        (D("12345.67"), D("4.5"), D("55555.52")),
    ],
)
def test_fine_is_the_chosen_multiple_of_the_amount_obtained(
    obtained: Decimal, multiple: Decimal, amount: Decimal
) -> None:
    f = fine_amount(obtained, multiple, ON)
    assert f.amount == amount and f.multiple == multiple and f.obtained == obtained
    assert "第八十八条" in f.basis_zh and "倍罚款" in f.basis_zh


@pytest.mark.parametrize(
    ("obtained", "multiple", "code"),
    [
        (D("100"), D("1.9"), "fine.multiple_out_of_range"),
        (D("100"), D("5.1"), "fine.multiple_out_of_range"),
        (D("100"), D("1"), "fine.multiple_out_of_range"),
        (D("100"), D("6"), "fine.multiple_out_of_range"),
        (D("100"), D("2.25"), "fine.multiple_invalid"),
        (D("0"), D("2"), "fine.nothing_obtained"),
        (D("-5"), D("2"), "amount.negative"),
    ],
)
def test_fine_outside_article_88_is_refused(obtained: Decimal, multiple: Decimal, code: str) -> None:
    with pytest.raises(PolicyError) as e:
        fine_amount(obtained, multiple, ON)
    assert e.value.code == code


def test_fine_refuses_a_float_multiple() -> None:
    with pytest.raises(PolicyError) as e:
        fine_amount(D("100"), 2.5, ON)  # type: ignore[arg-type]
    assert e.value.code == "fine.multiple_invalid"


@pytest.mark.parametrize(
    ("total", "n", "start", "amounts", "dues"),
    [
        (D("5640.00"), 1, date(2027, 4, 10), [D("5640.00")], [date(2027, 4, 10)]),
        (
            D("100.00"),
            3,
            date(2027, 1, 31),
            [D("33.33"), D("33.33"), D("33.34")],
            [date(2027, 1, 28), date(2027, 2, 28), date(2027, 3, 28)],
        ),
        (
            D("1000.00"),
            4,
            date(2027, 11, 5),
            [D("250.00")] * 4,
            [date(2027, 11, 5), date(2027, 12, 5), date(2028, 1, 5), date(2028, 2, 5)],
        ),
        (D("0"), 3, date(2027, 1, 1), [], []),
    ],
)
def test_repayment_schedule_adds_up_exactly(
    total: Decimal, n: int, start: date, amounts: list[Decimal], dues: list[date]
) -> None:
    plan = repayment_schedule(total, n, start)
    assert [i.amount for i in plan] == amounts and [i.due for i in plan] == dues
    assert sum((i.amount for i in plan), D("0")) == (total if plan else D("0"))


def test_repayment_schedule_refuses_bad_installments() -> None:
    with pytest.raises(PolicyError) as e:
        repayment_schedule(D("10"), 0, ON)
    assert e.value.code == "repayment.installments_invalid"
