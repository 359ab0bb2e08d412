"""The one money type: a ``Decimal`` of yuan with at most two decimals (fen), finite and not
negative. Why one type: an amount typed by a person or sent by a client (``0.30000000000000004``, a
float's noise, ``1.005``) must be refused with the same Chinese message wherever it is parsed,
never rounded silently and never carried on with more precision than the bank can pay.

``to_money`` is the single check; ``Money`` is the pydantic type built on it; ``policy.money``
wraps it for the rules (``PolicyError``). A float is refused outright (``0.1`` is not 0.1), and so
are NaN, infinities, exponents (``1e3``), booleans and text that is not a number.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

CENT = Decimal("0.01")


class MoneyError(ValueError):
    """An amount is not acceptable money; ``code`` is stable, ``message_zh`` is for people."""

    def __init__(self, code: str, message_zh: str) -> None:
        super().__init__(message_zh)
        self.code = code
        self.message_zh = message_zh


def to_money(value: Any, *, field: str = "金额") -> Decimal:
    """Check and return an amount as ``Decimal``: text (``"2156.50"``), ``Decimal`` or ``int``."""
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise MoneyError("amount.invalid", f"{field}须为精确小数（如\u201c2156.50\u201d），不能为浮点数")
    if isinstance(value, str):
        s = value.strip()
        if "e" in s.lower():
            raise MoneyError("amount.invalid", f"{field}格式不正确：{value!r}")
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise MoneyError("amount.invalid", f"{field}格式不正确：{value!r}") from None
    else:
        d = Decimal(value)
    if not d.is_finite():
        raise MoneyError("amount.invalid", f"{field}不是有效数值")
    if d < 0:
        raise MoneyError("amount.negative", f"{field}不能为负数：{d}")
    if d != d.quantize(CENT):
        raise MoneyError("amount.precision", f"{field}最多保留两位小数（精确到分）：{value}")
    return d


Money = Annotated[Decimal, BeforeValidator(to_money), PlainSerializer(str, return_type=str, when_used="json")]
