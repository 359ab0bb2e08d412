"""Exact money handling for the rules: ``Decimal`` only, never float (architecture: money is Decimal).

The check itself is ``models.money.to_money`` (the one money type); here it is raised as the rules'
``PolicyError`` so the CLI and the policy API report it like any other refused input."""

from __future__ import annotations

from decimal import Decimal

from models.money import MoneyError, to_money
from policy.errors import PolicyError


def parse_amount(text: str, *, field: str = "金额") -> Decimal:
    """Parse a non-negative amount of at most two decimals such as ``"2156.5"``; refuse NaN,
    infinities, exponents, negatives and sub-fen digits with a ``PolicyError``."""
    if not isinstance(text, str):
        raise PolicyError("amount.invalid", f"{field}格式不正确：{text!r}")
    return _checked(text, field)


def require_amount(value: Decimal, *, field: str = "金额") -> Decimal:
    """Check that an amount is a finite, non-negative ``Decimal`` of whole fen (a float is refused)."""
    return _checked(value, field)


def _checked(value: object, field: str) -> Decimal:
    try:
        return to_money(value, field=field)
    except MoneyError as e:
        raise PolicyError(e.code, e.message_zh) from None


def format_amount(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: 2156.50 -> "2156.5", 1881.00 -> "1881"."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")
