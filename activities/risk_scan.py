"""The scheduled risk scan (issue 16): read what the scans need across systems, run every rule of
``policy/risk_scan.py``, and return the hits, each naming people by applicant key only.

Why an activity: the inputs are other systems (contributions, pension, civil affairs; today the
simulators' joined view, ``GET /admin/risk-facts``) and the read model, and the hits must be
recorded once in the scan's history with the rule versions that produced them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlmodel import col, select
from temporalio import activity

from activities.gov import GovClients
from core.applicant import applicant_key
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from models.enums import CaseType
from models.tables import CaseRecord
from models.verification import (
    HitBatch,
    HitRecord,
    ScanCase,
    ScanHitView,
    ScanReport,
    ScanRequest,
    VerificationParty,
    verification_id_for,
)
from policy.risk_scan import RULE_LABELS, ScanEmployer, ScanHit, ScanPerson, group_hits, scan

DEFAULT_REGION = "150000"


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
                region=x.get("region") or "",
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
        people = self.people(facts)
        result = scan(people, employers, as_of, parameters_in_force(self.settings.params_dir))
        cases = await self.cases(list(result.hits), {p.key: p for p in people})
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
            cases=cases,
        )

    async def cases(self, hits: list[ScanHit], people: dict[str, ScanPerson]) -> list[ScanCase]:
        """One case per group of hits sharing people or an employer, with its parties: the people
        (their claims and periods from the read model), the employers, and an intermediary of its
        own for each shared contact."""
        found = datetime.now(UTC)
        keys = sorted({k for h in hits for k in h.people})
        linked: dict[str, tuple[list[str], list[str]]] = {k: ([], []) for k in keys}
        if keys:
            async with self.db.session() as s:
                rows = (
                    await s.exec(
                        select(CaseRecord).where(
                            col(CaseRecord.applicant_key).in_(keys),
                            col(CaseRecord.case_type).in_([CaseType.BENEFIT_CLAIM, CaseType.BENEFIT_PERIOD]),
                        )
                    )
                ).all()
            for r in rows:
                claims, periods = linked[r.applicant_key]
                (claims if r.case_type == CaseType.BENEFIT_CLAIM else periods).append(r.case_id)
        out = []
        for idx in group_hits(hits):
            group = [hits[i] for i in idx]
            members = sorted({k for h in group for k in h.people})
            regions = Counter(people[k].region for k in members if k in people and people[k].region)
            region = regions.most_common(1)[0][0] if regions else DEFAULT_REGION
            ref = min(h.group for h in group)
            parties = [
                VerificationParty(
                    kind="person", key=k, claim_ids=sorted(linked[k][0]), period_ids=sorted(linked[k][1])
                )
                for k in members
            ]
            parties += [
                VerificationParty(kind="employer", key=e)
                for e in sorted({h.employer for h in group if h.employer and h.group.startswith("employer-")})
            ]
            parties += [
                VerificationParty(
                    kind="intermediary",
                    key=f"intermediary-{h.group}",
                    label=f"共用{h.figures.get('contact', '')}的{len(h.people)}名申领人",
                    claim_ids=sorted({c for k in h.people for c in linked[k][0]}),
                )
                for h in group
                if h.rule == "scan.shared_contact"
            ]
            rules = "、".join(sorted({RULE_LABELS[h.rule] for h in group}))
            out.append(
                ScanCase(
                    case_id=verification_id_for(region, ref),
                    region_code=region,
                    reason_zh=f"定期风险筛查命中{len(group)}条（{rules}），涉及{len(members)}人"[:500],
                    batch=HitBatch(
                        hits=[
                            HitRecord(
                                rule=h.rule,
                                rule_version=h.rule_version,
                                explanation_zh=h.explanation_zh,
                                figures=h.figures,
                                found_at=found,
                                parties=list(h.people),
                            )
                            for h in group
                        ],
                        parties=parties,
                    ),
                )
            )
        return out


ACTIVITY_CLASSES = [RiskScanActivities]
