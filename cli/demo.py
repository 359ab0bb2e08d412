"""Demo claims for a newcomer's first ``make dev``: a few dozen synthetic claims from the
simulated population, submitted through the real API (online and at the counter), some of them
decided, so the inbox has work in every stage at once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from core.seed import DEMO_PASSWORD

SCENARIO_MIX = ["eligible"] * 6 + [
    "unregistered",
    "voluntary_resignation",
    "short_consecutive",
    "receiving_elsewhere",
    "short_contributions",
    "mass_separation",
]


async def _login(api: httpx.AsyncClient, login: str) -> dict[str, str]:
    r = await api.post("/api/v1/auth/login", json={"login": login, "password": DEMO_PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _body(p: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "id_number": p["id_number"],
        "name": p["name"],
        "phone": p["phone"],
        "bank_account": p["account_no"],
        "bank_name": p["bank_name"],
        "region_code": region,
        "employer_credit_code": p["last_employer"],
        "separation_date": p["stop_date"],
    }


async def applicant_id_token(sim_url: str, id_number: str) -> str:
    """The ID token the (simulated) real-name identity provider issues for ``id_number``; callers
    that must retry the exchange against several API processes (the drill) take it from here."""
    async with httpx.AsyncClient(base_url=sim_url, timeout=30) as idp:
        r = await idp.post("/idp/admin/id-token", data={"id_number": id_number})
        r.raise_for_status()
    return str(r.json()["id_token"])


async def applicant_headers(api: httpx.AsyncClient, sim_url: str, id_number: str) -> dict[str, str]:
    """An applicant's session, signed in as the portal does it: the (simulated) real-name identity
    provider issues an ID token, the API verifies it and answers with the applicant session."""
    id_token = await applicant_id_token(sim_url, id_number)
    r = await api.post("/api/v1/applicant/session", json={"id_token": id_token})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def submit_demo_claims(api_url: str, sim_url: str, n: int) -> int:
    async with (
        httpx.AsyncClient(base_url=api_url, timeout=30) as api,
        httpx.AsyncClient(base_url=sim_url, timeout=30) as sim,
    ):
        clerk = await _login(api, "clerk.xc")
        people: list[dict[str, Any]] = []
        for i in range(n):
            scenario = SCENARIO_MIX[i % len(SCENARIO_MIX)]
            if i % 3 == 0:  # a third at the Xincheng district counter, so the demo reviewer has work
                r = await sim.post("/admin/persons", json={"scenario": scenario, "insured_region": "150102"})
            else:
                r = await sim.get("/admin/population", params={"scenario": scenario, "limit": 1, "offset": i})
                found = r.json()["persons"]
                if not found:
                    continue
                people.append(found[0])
                continue
            r.raise_for_status()
            people.append(r.json())
        submitted: list[tuple[str, str]] = []
        for i, p in enumerate(people):
            counter = p["insured_region"] == "150102" and i % 2 == 0
            who = clerk if counter else await applicant_headers(api, sim_url, p["id_number"])
            r = await api.post("/api/v1/claims", json=_body(p, p["insured_region"]), headers=who)
            if r.status_code == 201:
                submitted.append((r.json()["case_id"], p["scenario"]))
        # Decide a few in Xincheng so "approved" and "rejected" appear beside the open ones.
        reviewer = await _login(api, "reviewer.xc")
        await asyncio.sleep(3)
        decided = 0
        for case_id, scenario in submitted:
            if not case_id.startswith("claim-150102-") or decided >= 4:
                continue
            detail = await api.get(f"/api/v1/claims/{case_id}", headers=reviewer)
            if detail.status_code != 200 or detail.json()["status"] != "under_review":
                continue
            if scenario == "eligible":
                r = await api.post(
                    f"/api/v1/claims/{case_id}/approve", json={"note": "演示：材料齐全"}, headers=reviewer
                )
            else:
                r = await api.post(
                    f"/api/v1/claims/{case_id}/reject",
                    headers=reviewer,
                    json={
                        "reason_code": "voluntary_separation"
                        if scenario == "voluntary_resignation"
                        else "other",
                        "remedy": "演示：请按告知补充材料后重新申请。",
                    },
                )
            decided += r.status_code == 200
        return len(submitted)


async def seed_employer_logins(sim_url: str, n: int = 3) -> list[str]:
    """Website logins for a few of the simulated employers (the dispute's employer channel)."""
    from core.db import Database
    from core.seed_employers import seed_demo_employers
    from core.settings import get_settings

    async with httpx.AsyncClient(base_url=sim_url, timeout=30) as sim:
        r = await sim.get("/admin/population", params={"scenario": "voluntary_resignation", "limit": n})
        r.raise_for_status()
        codes = sorted({p["last_employer"] for p in r.json()["persons"]})
    db = Database(get_settings().effective_database_url)
    try:
        async with db.session() as s:
            await seed_demo_employers(s, codes)
    finally:
        await db.dispose()
    return codes
