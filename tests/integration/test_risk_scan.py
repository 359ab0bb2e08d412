"""The scheduled risk scan over the simulators' population (issue 16, "what it must show"): the
seeded fraud ring, mass layoff, death while receiving and unreported re-employment are all found,
and with the default thresholds under 2% of the clean population is flagged.

Run: ``.venv/bin/python -m pytest tests/integration/test_risk_scan.py -q -s`` (prints the figures)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.gov import GovClients
from activities.risk_scan import RiskScanActivities
from cli.risk_cmd import schedule_risk_scan
from core.applicant import applicant_key
from core.db import Database
from core.settings import Settings
from models.verification import ScanReport, ScanRequest
from sim.testing import running_sim
from workflows.risk_scan import SCHEDULE_ID

#: Scenarios drawn to trip a rule (not clean); every other person is the clean population.
RISK_SCENARIOS = {"short_consecutive", "receiving_elsewhere", "mass_separation", "receiving_pension"}
ANOMALIES = {"fraud_ring", "mass_layoff", "death_while_receiving", "unreported_reemployment"}


def rules_for(report: ScanReport, key: str) -> set[str]:
    return {h.rule for h in report.hits if key in h.people}


async def test_scan_finds_the_seeded_anomalies_and_spares_the_clean_population(
    settings: Settings, sqlite_db: Database
) -> None:
    async with running_sim(seed=42, population=2000) as sim:
        s = settings.model_copy(update={"sim_base_url": sim.base_url, "sim_token": sim.token})
        acts = RiskScanActivities(s, sqlite_db, GovClients.from_settings(s))
        report = await acts.run_scan(ScanRequest())
        async with httpx.AsyncClient(base_url=sim.base_url) as c:
            facts: dict[str, Any] = (await c.get("/admin/risk-facts")).json()

    key = {p["id_number"]: applicant_key(s, p["id_number"]) for p in facts["persons"]}
    anomalies = facts["anomalies"]
    ring = [key[i] for i in anomalies["fraud_ring"]]
    layoff = [key[i] for i in anomalies["mass_layoff"]]
    assert len(ring) == 20 and len(layoff) == 15
    for k in ring:  # every member: the intermediary, the short-term burst at one employer
        assert {"scan.shared_contact", "scan.short_term_burst", "scan.short_contribution"} <= rules_for(
            report, k
        )
    ring_employer = anomalies["ring_employer"][0]
    assert any(h.rule == "scan.recipient_ratio" and h.employer == ring_employer for h in report.hits)
    for k in layoff:
        assert "scan.mass_separation" in rules_for(report, k)
    assert "scan.death_while_receiving" in rules_for(report, key[anomalies["death_while_receiving"][0]])
    assert "scan.contributions_while_receiving" in rules_for(
        report, key[anomalies["unreported_reemployment"][0]]
    )
    # Every hit explains itself with figures and names its rule version; no personal data in it.
    for h in report.hits:
        assert h.explanation_zh and h.figures and h.rule_version.startswith(h.rule + "@r")
        assert not any(
            p["phone"] in h.explanation_zh or p["id_number"] in h.explanation_zh
            for p in facts["persons"][:50]
        )

    clean = [key[p["id_number"]] for p in facts["persons"] if p["scenario"] not in RISK_SCENARIOS | ANOMALIES]
    flagged_clean = [k for k in clean if rules_for(report, k)]
    share = len(flagged_clean) / len(clean)
    by_rule = Counter(h.rule for h in report.hits)
    print(
        f"\nscan seed=42 population={report.people}: hits={len(report.hits)} flagged={report.flagged}; "
        f"clean={len(clean)} flagged_clean={len(flagged_clean)} ({share:.2%}); by rule {dict(by_rule)}"
    )
    assert share < 0.02


@pytest.mark.devserver
async def test_the_daily_risk_scan_schedule_is_registered_once(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    """``uiflow dev`` registers the scan's schedule as it does the archiver's: created once, then
    updated in place, daily at 03:15 Beijing time, starting ``RiskScanWorkflow``."""
    client = local_env.client
    local = settings.model_copy(
        update={
            "temporal_address": client.service_client.config.target_host,
            "temporal_namespace": "default",
            "task_queue": f"risk-{uuid.uuid4().hex[:8]}",
        }
    )
    assert await schedule_risk_scan(local) is True
    try:
        assert await schedule_risk_scan(local, 4, 0) is False  # updated, not duplicated
        desc = await client.get_schedule_handle(SCHEDULE_ID).describe()
        cal = desc.schedule.spec.calendars[0]
        assert (cal.hour[0].start, cal.minute[0].start) == (4, 0)
        assert desc.schedule.spec.time_zone_name == "Asia/Shanghai"
        assert desc.schedule.action.workflow == "RiskScanWorkflow"  # type: ignore[attr-defined]
    finally:
        await client.get_schedule_handle(SCHEDULE_ID).delete()
