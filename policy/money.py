"""Exact money handling for the rules: ``Decimal`` only, never float (architecture: money is Decimal)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from policy.errors import PolicyError


def parse_amount(text: str, *, field: str = "金额") -> Decimal:
    """Parse a non-negative decimal amount such as ``"2156.5"``; refuse NaN, infinities, exponents
    and negatives with a ``PolicyError``."""
    s = text.strip() if isinstance(text, str) else ""
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise PolicyError("amount.invalid", f"{field}格式不正确：{text!r}") from None
    if not d.is_finite() or "e" in s.lower():
        raise PolicyError("amount.invalid", f"{field}格式不正确：{text!r}")
    return require_amount(d, field=field)


def require_amount(value: Decimal, *, field: str = "金额") -> Decimal:
    """Check that an amount is a finite, non-negative ``Decimal`` (a float is refused outright)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise PolicyError("amount.invalid", f"{field}须为精确小数（Decimal），不能为浮点数")
    d = Decimal(value)
    if not d.is_finite():
        raise PolicyError("amount.invalid", f"{field}不是有效数值")
    if d < 0:
        raise PolicyError("amount.negative", f"{field}不能为负数：{d}")
    return d


def format_amount(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: 2156.50 -> "2156.5", 1881.00 -> "1881"."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")
