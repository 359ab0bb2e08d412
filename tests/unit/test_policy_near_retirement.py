"""policy.near_retirement: 续发, the transitional rule and pension support (domain.md C6, C7)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from models.rules import NearRetirementOutcome, RetirementCategory, YearMonth
from policy.near_retirement import near_retirement, receiving_on
from policy.parameters import merge_parameters, packaged_parameters

M = RetirementCategory.MALE
NONE = NearRetirementOutcome.NONE
CONT = NearRetirementOutcome.CONTINUE_TO_RETIREMENT
TRANS = NearRetirementOutcome.TRANSITIONAL_TO_ORIGINAL_RETIREMENT
YM = YearMonth.parse
# A man born 1966-03: pre-reform retirement 2026-03, post-reform 2026-07 (C7).
BIRTH = YM("1966-03")


def test_c7_transitional_example() -> None:
    r = near_retirement(M, BIRTH, YM("2025-05"), receiving_on_2024_12_31=True)
    assert r.outcome is TRANS
    assert str(r.pay_through) == "2026-03"
    assert r.requires_application
    assert (r.months_to_retirement, r.months_to_original_retirement) == (14, 10)
    # Rule 3 pension support while under 12 months from R_new = 2026-07, through the last paid month
    assert (str(r.pension_support_from), str(r.pension_support_through)) == ("2025-08", "2026-03")


def test_c7_ordinary_continuation_example() -> None:
    for receiving in (True, False):
        r = near_retirement(M, BIRTH, YM("2025-08"), receiving)
        assert r.outcome is CONT and str(r.pay_through) == "2026-07"
        assert not r.requires_application
        assert (str(r.pension_support_from), str(r.pension_support_through)) == ("2025-08", "2026-07")


def test_transitional_rule_needs_receipt_on_2024_12_31() -> None:
    r = near_retirement(M, BIRTH, YM("2025-05"), receiving_on_2024_12_31=False)
    assert r.outcome is NONE and r.pay_through is None
    assert r.pension_support_from is None and r.pension_support_through is None


@pytest.mark.parametrize(
    ("expiry", "outcome", "through"),
    [
        ("2025-03", NONE, None),  # R_old - E = 12: not under one year
        ("2025-04", TRANS, "2026-03"),  # R_old - E = 11
        ("2025-07", TRANS, "2026-03"),  # R_new - E = 12 exactly: not 续发 (不足1年), so Rule 4
        ("2025-08", CONT, "2026-07"),  # R_new - E = 11
        ("2026-06", CONT, "2026-07"),  # R_new - E = 1
        ("2026-07", NONE, None),  # expiry at the retirement month: nothing to extend
        ("2027-01", NONE, None),
    ],
)
def test_window_edges(expiry: str, outcome: NearRetirementOutcome, through: str | None) -> None:
    r = near_retirement(M, BIRTH, YM(expiry), receiving_on_2024_12_31=True)
    assert r.outcome is outcome
    assert (str(r.pay_through) if r.pay_through else None) == through


def _with(name: str, value: Any) -> Any:
    doc = {
        "parameters": {
            name: {
                "values": [
                    {"effective_from": "2019-12-01", "value": value, "status": "confirmed", "source": "t"}
                ]
            }
        }
    }
    return merge_parameters(packaged_parameters(), [doc])


def test_boundary_of_exactly_twelve_months_is_a_parameter() -> None:
    p = _with("near_retirement.window_includes_boundary", True)  # Tianjin: 1年之内（含1年）
    r = near_retirement(M, BIRTH, YM("2025-07"), True, p)
    assert r.outcome is CONT and str(r.pay_through) == "2026-07"
    assert str(r.pension_support_from) == "2025-07"


def test_whether_the_retirement_month_is_paid_is_a_parameter() -> None:
    p = _with("near_retirement.pay_retirement_month", False)
    assert str(near_retirement(M, BIRTH, YM("2025-08"), True, p).pay_through) == "2026-06"
    assert str(near_retirement(M, BIRTH, YM("2025-05"), True, p).pay_through) == "2026-02"
    assert near_retirement(M, BIRTH, YM("2026-06"), True, p).outcome is NONE


def test_unaffected_birth_month_and_support_window_start() -> None:
    # Born 1964-06: no delay, retires 2024-06; 续发 applies but the 76号 support starts only 2025-01.
    r = near_retirement(M, YM("1964-06"), YM("2023-10"), False)
    assert r.outcome is CONT and str(r.pay_through) == "2024-06"
    assert r.pension_support_from is None
    # Born 1965-01: retires 2025-02; support 2025-01 .. 2025-02
    r = near_retirement(M, YM("1965-01"), YM("2024-09"), True)
    assert (str(r.pension_support_from), str(r.pension_support_through)) == ("2025-01", "2025-02")


def test_female_50_transitional() -> None:
    # Born 1976-01: delay 7, R_new 2026-08, R_old 2026-01.
    r = near_retirement(RetirementCategory.FEMALE_50, YM("1976-01"), YM("2025-05"), True)
    assert r.retirement.delay_months == 7
    assert r.outcome is TRANS and str(r.pay_through) == "2026-01"


# --- "receiving on 2024-12-31" means paid for December 2024, 续发 included (issue 14) -------------

DEC31 = date(2024, 12, 31)


def _run(first: str, n: int) -> list[YearMonth]:
    return [YM(first) + i for i in range(n)]


@pytest.mark.parametrize(
    ("paid", "receiving"),
    [
        (_run("2024-01", 12), True),  # exactly 12 months, the twelfth is December: receiving
        (_run("2023-12", 12), False),  # exactly 12 months ending November: not receiving
        (_run("2023-01", 24), True),  # 24 months 2023-01..2024-12
        (_run("2024-12", 1), True),  # first month December (paid for it, whenever paid)
        (_run("2025-01", 12), False),  # registered in December, first month paid is January
        ([], False),  # registered, nothing paid yet
        (_run("2024-06", 6) + _run("2025-02", 3), False),  # December held by a suspension, moved on
        # ordinary 2023-01..2024-10, then 续发 2024-11..2025-03: 续发 months count
        (_run("2023-01", 22) + _run("2024-11", 5), True),
    ],
)
def test_receiving_on_2024_12_31_is_paid_for_that_month(paid: list[YearMonth], receiving: bool) -> None:
    assert receiving_on(DEC31, paid) is receiving


def test_only_a_paid_december_opens_the_transitional_rule() -> None:
    # C7's man (R_old 2026-03, R_new 2026-07), expiry 2025-05: receiving decides Rule 4
    for paid, outcome in ((_run("2024-06", 12), TRANS), (_run("2025-01", 5), NONE)):
        r = near_retirement(M, BIRTH, YM("2025-05"), receiving_on(DEC31, paid))
        assert r.outcome is outcome
