"""Value types and enums of the benefit rules (``policy/``), shared with the workflows and the API.

Plain, typed and immutable, so that workflows may hold them in their state and pass them as
payloads: ``YearMonth`` serialises as ``"YYYY-MM"`` through pydantic, the enums as their values.

Why a year-month type: the retirement-age tables of the 2024 reform (domain.md C2), the benefit
months (A4, B1) and the premium refund (F) all work in calendar months, never in days. Doing the
month arithmetic once here keeps ``birth + 60y2m`` from being re-implemented (wrongly) elsewhere.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, overload

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

_YM_RE = re.compile(r"^(\d{4})-(\d{2})$")


class InvalidYearMonth(ValueError):
    """A year-month string or value is malformed. Same shape as ``policy.errors.PolicyError``
    (``code`` is stable, ``message_zh`` is for staff) so the API and CLI can report it alike."""

    code = "yearmonth.invalid"

    def __init__(self, message_zh: str) -> None:
        super().__init__(f"{self.code}: {message_zh}")
        self.message_zh = message_zh


@dataclass(frozen=True, order=True, slots=True)
class YearMonth:
    """A calendar month, e.g. ``YearMonth(2025, 10)``; ordering is chronological.

    ``ym + n`` moves ``n`` months (``n`` may be negative); ``a - b`` between two year-months is
    the signed number of months from ``b`` to ``a``; ``ym - n`` moves back ``n`` months.
    """

    year: int
    month: int

    def __post_init__(self) -> None:
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise InvalidYearMonth("年份必须为整数")
        if isinstance(self.month, bool) or not isinstance(self.month, int):
            raise InvalidYearMonth("月份必须为整数")
        if not 1 <= self.month <= 12:
            raise InvalidYearMonth(f"月份不存在：{self.month}（应为1至12）")
        if not 1 <= self.year <= 9999:
            raise InvalidYearMonth(f"年份超出范围：{self.year}")

    @classmethod
    def parse(cls, text: str) -> YearMonth:
        """Parse exactly ``YYYY-MM`` (two-digit month); anything else is refused."""
        m = _YM_RE.match(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise InvalidYearMonth(f"年月格式应为YYYY-MM：{text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, d: date) -> YearMonth:
        """The month a date falls in."""
        return cls(d.year, d.month)

    @property
    def index(self) -> int:
        """Months since year 0, for arithmetic."""
        return self.year * 12 + (self.month - 1)

    @classmethod
    def from_index(cls, index: int) -> YearMonth:
        y, m0 = divmod(index, 12)
        return cls(y, m0 + 1)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __add__(self, months: int) -> YearMonth:
        if isinstance(months, bool) or not isinstance(months, int):
            return NotImplemented
        return YearMonth.from_index(self.index + months)

    __radd__ = __add__

    @overload
    def __sub__(self, other: YearMonth) -> int: ...
    @overload
    def __sub__(self, other: int) -> YearMonth: ...
    def __sub__(self, other: YearMonth | int) -> int | YearMonth:
        if isinstance(other, YearMonth):
            return self.index - other.index
        if isinstance(other, bool) or not isinstance(other, int):
            return NotImplemented
        return YearMonth.from_index(self.index - other)

    # pydantic: accept "YYYY-MM" or a YearMonth, serialise as "YYYY-MM".
    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def _validate(v: Any) -> YearMonth:
            if isinstance(v, YearMonth):
                return v
            if isinstance(v, str):
                return cls.parse(v)
            raise InvalidYearMonth("年月格式应为YYYY-MM")

        return core_schema.no_info_plain_validator_function(
            _validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "examples": ["2025-10"]}


class RuleEnum(StrEnum):
    """A str enum whose members carry a Chinese label (``label``) for staff-facing text."""

    @property
    def label(self) -> str:
        return _LABELS.get(self, self.value)


class RetirementCategory(RuleEnum):
    """The 原法定退休年龄 group of the 2024 reform (domain.md C1/C2). A personnel attribute taken
    from the original statutory age, not from sex alone, so the case record stores it."""

    MALE = "male"
    FEMALE_55 = "female-55"
    FEMALE_50 = "female-50"


class StopCondition(RuleEnum):
    """Why benefit payment stops (社保法 Art. 51; 条例 Art. 15; domain.md A5). When one occurs,
    all other UI benefits, including the paid medical contributions, stop too."""

    REEMPLOYED = "reemployed"
    MILITARY_SERVICE = "military_service"
    EMIGRATED = "emigrated"
    PENSION = "pension"
    IMPRISONED = "imprisoned"
    REFUSED_JOB_OR_TRAINING = "refused_job_or_training"
    OTHER_STATUTORY = "other_statutory"

    @property
    def legal_basis(self) -> str:
        return _STOP_BASIS[self]


class NearRetirementOutcome(RuleEnum):
    """What happens at the end of the entitlement of someone near retirement (domain.md C6)."""

    NONE = "none"
    CONTINUE_TO_RETIREMENT = "continue_to_retirement"
    TRANSITIONAL_TO_ORIGINAL_RETIREMENT = "transitional_to_original_retirement"


class CertificateLevel(RuleEnum):
    """Certificate levels that the 技能提升补贴 pays for (domain.md E1). Ordered by ``rank``."""

    JUNIOR = "junior"
    INTERMEDIATE = "intermediate"
    SENIOR = "senior"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


class RiskCode(RuleEnum):
    """Risk rules of the Inner Mongolia notice, item 7 (domain.md G). A hit marks a claim for
    verification; it never rejects it."""

    SHORT_CONTRIBUTION = "risk.short_contribution"
    MASS_SEPARATION = "risk.mass_separation"
    HIGH_CLAIMANT_RATIO = "risk.high_claimant_ratio"
    CROSS_PROVINCE_DUPLICATE = "risk.cross_province_duplicate"


class ApplicantKind(RuleEnum):
    """Who applies for the 技能提升补贴 (domain.md E1; notice item 6)."""

    INSURED_EMPLOYEE = "insured_employee"
    BENEFIT_RECIPIENT = "benefit_recipient"


_LABELS: dict[RuleEnum, str] = {
    RetirementCategory.MALE: "男职工（原法定退休年龄60周岁）",
    RetirementCategory.FEMALE_55: "女职工（原法定退休年龄55周岁）",
    RetirementCategory.FEMALE_50: "女职工（原法定退休年龄50周岁）",
    StopCondition.REEMPLOYED: "重新就业",
    StopCondition.MILITARY_SERVICE: "应征服兵役",
    StopCondition.EMIGRATED: "移居境外",
    StopCondition.PENSION: "享受基本养老保险待遇",
    StopCondition.IMPRISONED: "被判刑收监执行",
    StopCondition.REFUSED_JOB_OR_TRAINING: (
        "无正当理由拒不接受当地人民政府指定部门或者机构介绍的适当工作或者提供的培训"
    ),
    StopCondition.OTHER_STATUTORY: "法律、行政法规规定的其他情形",
    NearRetirementOutcome.NONE: "领金期满停发",
    NearRetirementOutcome.CONTINUE_TO_RETIREMENT: "续发失业保险金至法定退休年龄",
    NearRetirementOutcome.TRANSITIONAL_TO_ORIGINAL_RETIREMENT: (
        "经本人申请，继续发放至改革实施前法定退休年龄，期满后不再续发"
    ),
    CertificateLevel.JUNIOR: "初级（五级）",
    CertificateLevel.INTERMEDIATE: "中级（四级）",
    CertificateLevel.SENIOR: "高级（三级）",
    RiskCode.SHORT_CONTRIBUTION: "连续缴费不足3个月申领失业保险金",
    RiskCode.MASS_SEPARATION: "同一用人单位职工集中离职申领失业保险金",
    RiskCode.HIGH_CLAIMANT_RATIO: "领取失业保险金人数占用人单位参保总人数比例过高",
    RiskCode.CROSS_PROVINCE_DUPLICATE: "跨省重复领取失业保险金",
    ApplicantKind.INSURED_EMPLOYEE: "参保职工",
    ApplicantKind.BENEFIT_RECIPIENT: "领取失业保险金人员",
}

_STOP_BASIS: dict[StopCondition, str] = {
    StopCondition.REEMPLOYED: "社会保险法第五十一条第（一）项",
    StopCondition.MILITARY_SERVICE: "社会保险法第五十一条第（二）项",
    StopCondition.EMIGRATED: "社会保险法第五十一条第（三）项",
    StopCondition.PENSION: "社会保险法第五十一条第（四）项",
    StopCondition.REFUSED_JOB_OR_TRAINING: "社会保险法第五十一条第（五）项",
    StopCondition.IMPRISONED: "失业保险条例第十五条",
    StopCondition.OTHER_STATUTORY: "失业保险条例第十五条",
}

_LEVEL_RANK: dict[CertificateLevel, int] = {
    CertificateLevel.JUNIOR: 1,
    CertificateLevel.INTERMEDIATE: 2,
    CertificateLevel.SENIOR: 3,
}
