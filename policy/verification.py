"""Outcomes of a verification case (核查), notice item 7: the fine and the repayment schedule.

Why here: the fine's bounds are statute (社会保险法第八十八条: 以欺诈、伪造证明材料或者其他手段骗取
社会保险待遇的，由社会保险行政部门责令退回骗取的社会保险金，处骗取金额二倍以上五倍以下的罚款), and
the schedule splits what is owed into exact cent amounts; both are pure and table-tested. The
multiple's bounds are dated parameters so that a change of law is a new dated value, not code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from models.rules import YearMonth
from policy.errors import PolicyError
from policy.money import format_amount, require_amount
from policy.parameters import ParameterSet, resolve

CENT = Decimal("0.01")
ART_88 = "《中华人民共和国社会保险法》第八十八条"


@dataclass(frozen=True, slots=True)
class FineFigure:
    obtained: Decimal
    multiple: Decimal
    amount: Decimal
    basis_zh: str


def fine_amount(
    obtained: Decimal, multiple: Decimal, as_of: date, params: ParameterSet | None = None
) -> FineFigure:
    """``obtained × multiple``, to the cent; the multiple within the dated bounds (2 to 5 times),
    at most one decimal place (2.5 times is a choice a supervisor can justify; 2.37 is not)."""
    got = require_amount(obtained, field="骗取金额")
    if isinstance(multiple, bool) or not isinstance(multiple, Decimal | int):
        raise PolicyError("fine.multiple_invalid", "罚款倍数须为精确小数")
    m = Decimal(multiple)
    p = resolve(params)
    low = p.decimal("risk.fine.min_multiple", as_of)
    high = p.decimal("risk.fine.max_multiple", as_of)
    if not m.is_finite() or m < low or m > high:
        raise PolicyError(
            "fine.multiple_out_of_range",
            f"罚款倍数应在{format_amount(low)}倍至{format_amount(high)}倍之间（{ART_88}），不能为{m}倍",
        )
    if m != m.quantize(Decimal("0.1")):
        raise PolicyError("fine.multiple_invalid", "罚款倍数最多保留一位小数")
    if got == 0:
        raise PolicyError("fine.nothing_obtained", "骗取金额为0，不能按倍数处以罚款")
    amount = (got * m).quantize(CENT, rounding=ROUND_HALF_UP)
    basis = (
        f"依据{ART_88}，骗取金额{format_amount(got)}元，"
        f"处{format_amount(m)}倍罚款，计{format_amount(amount)}元"
    )
    return FineFigure(obtained=got, multiple=m, amount=amount, basis_zh=basis)


@dataclass(frozen=True, slots=True)
class InstallmentFigure:
    n: int
    due: date
    amount: Decimal


def repayment_schedule(total: Decimal, installments: int, start: date) -> list[InstallmentFigure]:
    """Equal monthly installments due on the same day of each month from ``start`` (the 28th at
    most, so every month has it); the cents left over by the split go on the last installment, so
    the installments add up to the total exactly."""
    owed = require_amount(total, field="应退回金额")
    if installments < 1 or installments > 60:
        raise PolicyError("repayment.installments_invalid", "分期数应为1至60期")
    if owed == 0:
        return []
    base = (owed / installments).quantize(CENT, rounding=ROUND_DOWN)
    day = min(start.day, 28)
    first = YearMonth.of(start)
    out: list[InstallmentFigure] = []
    for i in range(installments):
        ym = first + i
        amount = base if i < installments - 1 else owed - base * (installments - 1)
        out.append(InstallmentFigure(n=i + 1, due=date(ym.year, ym.month, day), amount=amount))
    return out
