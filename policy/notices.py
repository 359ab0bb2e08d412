"""What every official notice states about who issued it and, for an adverse decision, the
person's remedies: the right to 行政复议 within 60 days (行政复议法 Art. 20) before the people's
government above the agency, and to 行政诉讼 within 6 months (行政诉讼法 Art. 46) at the people's
court with jurisdiction where the agency sits. The periods and the agency's name are dated
parameters (``policy/params/notice.yaml``); the places follow from the case's region, so a refusal
in 锡林浩特市 sends the person to 锡林郭勒盟锡林浩特市人民政府, not to a generic "the authority".

Pure functions; the notice templates (``activities/notices.py``) print what these return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from policy.parameters import ParameterSet, resolve
from policy.regions import ancestors, get_region

HOTLINE = "12333"


@dataclass(frozen=True)
class Remedies:
    """Where a person who disagrees goes, and within how long."""

    review_days: int
    review_organ: str
    litigation_months: int
    court: str

    def text_zh(self) -> str:
        return (
            f"如不服本决定，可以自收到本决定书之日起{self.review_days}日内向{self.review_organ}申请行政复议，"
            f"也可以自收到本决定书之日起{self.litigation_months}个月内向{self.court}提起行政诉讼。"
            "复议、诉讼期间，本决定不停止执行。"
        )


def full_region_name(region_code: str) -> str:
    """The division's name with its league or city (呼和浩特市新城区); the region alone at the top."""
    region = get_region(region_code)
    names = [a.name for a in reversed(ancestors(region_code)) if a.level != "region"]
    return "".join([*names, region.name])


def agency_name(region_code: str, as_of: date, params: ParameterSet | None = None) -> str:
    """The issuing agency's name as printed on a notice: the region's full name and the suffix
    parameter (the real name of each office is an operator's setting)."""
    p = resolve(params)
    return full_region_name(region_code) + str(p.value("notice.agency_suffix", as_of))


def review_organ(region_code: str) -> str:
    """The 复议机关: the people's government at the agency's level (a league's is its 行政公署); for the
    region's own agency, the department itself (行政复议法 Art. 25)."""
    region = get_region(region_code)
    if region.level == "region":
        return "内蒙古自治区人力资源和社会保障厅"
    if region.level == "league" and region.name.endswith("盟"):
        return f"{region.name}行政公署"
    return f"{full_region_name(region_code)}人民政府"


def remedies(region_code: str, as_of: date, params: ParameterSet | None = None) -> Remedies:
    p = resolve(params)
    return Remedies(
        review_days=p.integer("notice.review_application_days", as_of),
        review_organ=review_organ(region_code),
        litigation_months=p.integer("notice.litigation_months", as_of),
        court=f"{full_region_name(region_code)}所在地有管辖权的人民法院",
    )


def where_to_ask(region_code: str, as_of: date, params: ParameterSet | None = None) -> str:
    """The line every notice ends with: where to ask in person or by phone."""
    agency = agency_name(region_code, as_of, params)
    return f"如有疑问，请到{agency}服务窗口咨询，或拨打{HOTLINE}人社服务热线。"
