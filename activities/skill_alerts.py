"""Activities of the subsidy anomaly alerts: gather the figures (the certificate register of the
national site, our subsidy cases' places, our grants by league and month), let the pure rules in
``policy.skill_alerts`` decide, and mark the subsidies an appraisal confirmed irregular for recovery."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from temporalio import activity

from activities.gov import GovClients
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from models.enums import CaseType
from models.rules import YearMonth
from models.skill_subsidy import AlertScanRequest, RecoveryRequest, SkillAlert
from models.tables import CaseRecord, SkillSubsidyGrant
from policy.regions import REGION_ROOT, get_region, is_known_region
from policy.skill_alerts import IssuedCertificate, SubsidyPlace, issuer_bursts, out_of_region, payout_surges

TZ = ZoneInfo("Asia/Shanghai")


def league_of(code: str) -> str:
    """The league whose supervisors see an alert about ``code`` (the region for a directly
    administered city or an unknown code)."""
    if not is_known_region(code):
        return REGION_ROOT
    r = get_region(code)
    if r.level == "league":
        return r.code
    return r.parent or REGION_ROOT


class SkillAlertActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov

    @activity.defn
    async def scan_skill_alerts(self, req: AlertScanRequest) -> list[SkillAlert]:
        params = parameters_in_force(self.settings.params_dir)
        since = req.as_of - timedelta(days=req.lookback_days)
        reg = await self.gov.certificates.register(since, req.as_of)
        issued = [IssuedCertificate(c.issuer, c.issuer_region, c.issued_on) for c in reg.certificates]
        alerts = issuer_bursts(issued, req.as_of, req.lookback_days, params)
        async with self.db.session() as s:
            cases = (
                await s.exec(
                    select(CaseRecord).where(
                        CaseRecord.case_type == CaseType.SKILL_SUBSIDY.value,
                        col(CaseRecord.received_at)
                        >= datetime.combine(since, time(0, 0), TZ).astimezone(UTC),
                    )
                )
            ).all()
            grants = (await s.exec(select(SkillSubsidyGrant))).all()
        places = [
            SubsidyPlace(
                case_id=c.case_id,
                league=league_of(c.region_code),
                issuer_region=str(c.summary["issuer_region"]),
                home_region=str(c.summary["insured_region"]),
            )
            for c in cases
            if c.summary.get("issuer_region") and c.summary.get("insured_region")
        ]
        alerts += out_of_region(places)
        monthly: dict[tuple[str, YearMonth], Decimal] = defaultdict(Decimal)
        by_league: dict[str, list[str]] = defaultdict(list)
        month = YearMonth(req.as_of.year, req.as_of.month)
        for g in grants:
            created = g.created_at.astimezone(TZ)
            league = league_of(g.region_code)
            ym = YearMonth(created.year, created.month)
            monthly[(league, ym)] += g.amount
            if ym == month:
                by_league[league].append(g.case_id)
        alerts += payout_surges(monthly, month, by_league, params)
        return alerts

    @activity.defn
    async def mark_recovery(self, req: RecoveryRequest) -> list[str]:
        """The appraisal confirmed the subsidies irregular: their grants go to recovery and the
        cases show it (the payment itself is recovered by the finance process)."""
        marked = []
        async with self.db.session() as s:
            for case_id in req.case_ids:
                grant = await s.get(SkillSubsidyGrant, case_id)
                if grant is not None:
                    grant.status = "recovery"
                row = await s.get(CaseRecord, case_id)
                if row is not None:
                    row.stage = "recovery"
                    row.summary["recovery_alert"] = req.alert_id
                    marked.append(case_id)
            await s.commit()
        return marked


ACTIVITY_CLASSES = [SkillAlertActivities]
