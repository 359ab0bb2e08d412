"""models.rules: the year-month type and the rule enums."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel

from models.rules import (
    CertificateLevel,
    InvalidYearMonth,
    NearRetirementOutcome,
    RetirementCategory,
    RiskCode,
    StopCondition,
    YearMonth,
)


def test_parse_and_str_round_trip() -> None:
    ym = YearMonth.parse("2025-10")
    assert ym == YearMonth(2025, 10)
    assert str(ym) == "2025-10"
    assert str(YearMonth(5, 1)) == "0005-01"


@pytest.mark.parametrize(
    "text", ["2025-13", "2025-00", "2025-1", "25-01", "2025/01", "2025-01-01", "", "abcd-ef"]
)
def test_parse_refuses_malformed_or_impossible(text: str) -> None:
    with pytest.raises(InvalidYearMonth) as e:
        YearMonth.parse(text)
    assert e.value.code == "yearmonth.invalid"
    assert e.value.message_zh


def test_constructor_refuses_impossible_month() -> None:
    with pytest.raises(InvalidYearMonth):
        YearMonth(2025, 13)
    with pytest.raises(InvalidYearMonth):
        YearMonth(2025, 0)


def test_arithmetic_and_ordering() -> None:
    assert YearMonth(2025, 11) + 2 == YearMonth(2026, 1)
    assert YearMonth(2025, 1) + (-1) == YearMonth(2024, 12)
    assert YearMonth(2025, 1) - 13 == YearMonth(2023, 12)
    assert YearMonth(2026, 7) - YearMonth(2025, 5) == 14
    assert YearMonth(1965, 8) + (60 * 12 + 2) == YearMonth(2025, 10)
    assert YearMonth(2024, 12) < YearMonth(2025, 1) < YearMonth(2025, 2)
    assert max(YearMonth(2025, 3), YearMonth(2024, 12)) == YearMonth(2025, 3)
    assert YearMonth.of(date(2024, 2, 29)) == YearMonth(2024, 2)
    assert YearMonth(2024, 2).last_day() == date(2024, 2, 29)
    assert YearMonth(2025, 2).first_day() == date(2025, 2, 1)


def test_pydantic_round_trip() -> None:
    class M(BaseModel):
        month: YearMonth

    m = M.model_validate({"month": "2026-03"})
    assert m.month == YearMonth(2026, 3)
    assert m.model_dump(mode="json") == {"month": "2026-03"}
    with pytest.raises(ValueError):
        M.model_validate({"month": "2026-3"})


def test_enums_have_values_and_chinese_labels() -> None:
    assert [c.value for c in RetirementCategory] == ["male", "female-55", "female-50"]
    assert RetirementCategory.FEMALE_50.label == "女职工（原法定退休年龄50周岁）"
    assert {s.value for s in StopCondition} == {
        "reemployed",
        "military_service",
        "emigrated",
        "pension",
        "imprisoned",
        "refused_job_or_training",
        "other_statutory",
    }
    assert StopCondition.PENSION.label == "享受基本养老保险待遇"
    assert "第五十一条" in StopCondition.REEMPLOYED.legal_basis
    assert NearRetirementOutcome("transitional_to_original_retirement").label.startswith("经本人申请")
    assert CertificateLevel.SENIOR.rank > CertificateLevel.INTERMEDIATE.rank > CertificateLevel.JUNIOR.rank
    for enum in (RetirementCategory, StopCondition, NearRetirementOutcome, CertificateLevel, RiskCode):
        for member in enum:
            assert member.label != member.value, member
