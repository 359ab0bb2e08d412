"""Enums shared by the API, the workflows and the read model, each with its Chinese label."""

from __future__ import annotations

from enum import StrEnum


class LabelledEnum(StrEnum):
    """A str enum whose members carry a Chinese label for staff-facing text."""

    @property
    def label(self) -> str:
        return _LABELS.get(self, self.value)


class StageEnum(StrEnum):
    """A case type's stages, each member written with its Chinese label beside it::

        REVIEW = "review", "待审核"

    The value (the first item) is what the state, the read model and the ``CaseStage`` search
    attribute hold; ``label_zh`` is the text staff see."""

    label_zh: str

    def __new__(cls, value: str, label_zh: str = "") -> StageEnum:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label_zh = label_zh or value
        return obj


class Role(LabelledEnum):
    INTAKE_CLERK = "intake_clerk"
    REVIEWER = "reviewer"
    SECOND_REVIEWER = "second_reviewer"
    FINAL_REVIEWER = "final_reviewer"
    RISK_INSPECTOR = "risk_inspector"
    OPS_ENGINEER = "ops_engineer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    EMPLOYER = "employer"  # not staff: a former employer signed in on the website


class RegionLevel(LabelledEnum):
    REGION = "region"
    LEAGUE = "league"
    COUNTY = "county"


class CaseType(LabelledEnum):
    BENEFIT_CLAIM = "benefit_claim"
    BENEFIT_PERIOD = "benefit_period"
    STOP_REASON_DISPUTE = "stop_reason_dispute"
    PREMIUM_REFUND = "premium_refund"
    SKILL_SUBSIDY = "skill_subsidy"
    SKILL_ALERT = "skill_alert"
    RISK_CHECK = "risk_check"
    COMPLAINT = "complaint"


class Channel(LabelledEnum):
    ONLINE = "online"
    COUNTER = "counter"
    EMPLOYER_WEBSITE = "employer_website"


_LABELS: dict[LabelledEnum, str] = {
    Role.INTAKE_CLERK: "窗口受理员",
    Role.REVIEWER: "审核员",
    Role.SECOND_REVIEWER: "复审员",
    Role.FINAL_REVIEWER: "终审员",
    Role.RISK_INSPECTOR: "风险稽核员",
    Role.OPS_ENGINEER: "运维工程师",
    Role.SUPERVISOR: "业务主管",
    Role.AUDITOR: "审计员",
    Role.ADMIN: "系统管理员",
    Role.EMPLOYER: "用人单位",
    RegionLevel.REGION: "自治区",
    RegionLevel.LEAGUE: "盟市",
    RegionLevel.COUNTY: "旗县区",
    CaseType.BENEFIT_CLAIM: "失业保险金申领",
    CaseType.BENEFIT_PERIOD: "失业保险金发放",
    CaseType.STOP_REASON_DISPUTE: "停保原因争议",
    CaseType.PREMIUM_REFUND: "医保费退费",
    CaseType.SKILL_SUBSIDY: "技能提升补贴",
    CaseType.SKILL_ALERT: "技能提升补贴预警",
    CaseType.RISK_CHECK: "风险核查",
    CaseType.COMPLAINT: "投诉咨询",
    Channel.ONLINE: "网上申请",
    Channel.COUNTER: "窗口申请",
    Channel.EMPLOYER_WEBSITE: "单位网站申请",
}

# Roles that may never write anything (the API refuses every write for them).
READ_ONLY_ROLES = frozenset({Role.AUDITOR})
