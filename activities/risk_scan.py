"""The scheduled risk scan (issue 16): read what the scans need across systems, run every rule of
``policy/risk_scan.py``, and return the hits, each naming people by applicant key only.

Why an activity: the inputs are other systems (contributions, pension, civil affairs; today the
simulators' joined view, ``GET /admin/risk-facts``) and the read model, and the hits must be
recorded once in the scan's history with the rule versions that produced them."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from temporalio import activity

from activities.gov import GovClients
from core.applicant import applicant_key
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from models.verification import ScanHitView, ScanReport, ScanRequest
from policy.risk_scan import ScanEmployer, ScanPerson, scan


def _day(v: Any) -> date | None:
    return date.fromisoformat(v) if v else None


class RiskScanActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db

    async def facts(self) -> dict[str, Any]:
        async with httpx.AsyncClient(
            base_url=self.settings.sim_base_url, timeout=self.settings.external_timeout_seconds * 6
        ) as c:
            r = await c.get("/admin/risk-facts")
            r.raise_for_status()
            body: dict[str, Any] = r.json()
            return body

    def people(self, facts: dict[str, Any]) -> list[ScanPerson]:
        return [
            ScanPerson(
                key=applicant_key(self.settings, x["id_number"]),
                employer=x["employer"],
                stop_date=date.fromisoformat(x["stop_date"]),
                consecutive_months=int(x["consecutive_months"]),
                claimed=bool(x["claimed"]),
                benefit_since=_day(x.get("benefit_since")),
                receiving_elsewhere=bool(x.get("receiving_elsewhere")),
                elsewhere_province=x.get("elsewhere_province"),
                pension_since=_day(x.get("pension_since")),
                died_on=_day(x.get("died_on")),
                contribution_months_after=tuple(x.get("contribution_months_after") or ()),
                phone=x.get("phone"),
                account=x.get("account"),
                address=x.get("address"),
                agent=x.get("agent"),
            )
            for x in facts["persons"]
        ]

    @activity.defn
    async def run_scan(self, req: ScanRequest) -> ScanReport:
        facts = await self.facts()
        as_of = req.as_of or date.fromisoformat(facts["as_of"])
        employers = [ScanEmployer(code=e["code"], headcount=int(e["headcount"])) for e in facts["employers"]]
        result = scan(self.people(facts), employers, as_of, parameters_in_force(self.settings.params_dir))
        return ScanReport(
            as_of=as_of,
            parameter_version=result.parameter_version,
            people=result.people,
            flagged=len(result.flagged),
            hits=[
                ScanHitView(
                    rule=h.rule,
                    rule_version=h.rule_version,
                    explanation_zh=h.explanation_zh,
                    figures=h.figures,
                    people=list(h.people),
                    employer=h.employer,
                    group=h.group,
                )
                for h in result.hits
            ],
        )


ACTIVITY_CLASSES = [RiskScanActivities]
