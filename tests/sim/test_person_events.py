"""The simulated systems that learn of a stop condition (issue 14 item 2): each answers the bulk
question before a pay day for many people at once (ID numbers in the body, never the path), knows
only its own fact, can be made to fail, and pushes a signed event whose id the bulk answer repeats
(so a pushed event and the same fact found again are one event)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from sim.testing import SimHandle
from tests.factories import sim_person

SYSTEMS = {
    "/contributions": "person.reemployed",
    "/insurance-record": "person.pension_started",
    "/civil-affairs": "person.died",
    "/cross-province": "person.benefit_elsewhere",
}


async def test_each_system_answers_for_many_people_and_only_its_own_fact(sim: SimHandle) -> None:
    quiet = await sim_person(sim.base_url, sim.token, scenario="eligible")
    dead = await sim_person(sim.base_url, sim.token, scenario="eligible")
    since = date(2026, 1, 1)
    auth = {"Authorization": f"Bearer {sim.token}"}
    async with httpx.AsyncClient(base_url=sim.base_url, headers=auth) as c:
        r = await c.post(
            "/admin/person-events/person.died",
            json={"id_number": dead["id_number"], "on": "2026-03-04", "deliver": False},
        )
        assert r.status_code == 200 and r.json()["callback"] is None
        pushed_id = r.json()["event_id"]
        items = [{"id_number": p["id_number"], "since": since.isoformat()} for p in (quiet, dead)]
        for prefix, event in SYSTEMS.items():
            r = await c.post(f"{prefix}/stop-checks", json={"items": items})
            assert r.status_code == 200, r.text
            found = {x["id_number"]: x["event"] for x in r.json()["results"]}
            assert found[quiet["id_number"]] is None
            if event == "person.died":
                assert found[dead["id_number"]] == {"event": event, "event_id": pushed_id, "on": "2026-03-04"}
            else:
                assert found[dead["id_number"]] is None
        # re-employment before the period began is the old job's, not news
        r = await c.post(
            "/admin/person-events/person.reemployed",
            json={
                "id_number": quiet["id_number"],
                "on": (since - timedelta(days=40)).isoformat(),
                "deliver": False,
            },
        )
        r = await c.post("/contributions/stop-checks", json={"items": items[:1]})
        assert r.json()["results"][0]["event"] is None
        # the token is required, and a fault makes the system unavailable
        assert (
            await c.post("/civil-affairs/stop-checks", json={"items": items}, headers={"Authorization": "x"})
        ).status_code == 401
        await c.put("/admin/faults/civil-affairs", json={"error_rate": 1.0})
        try:
            r = await c.post("/civil-affairs/stop-checks", json={"items": items})
            assert r.status_code == 503 and r.json()["error"]["code"] == "system.unavailable"
        finally:
            await c.delete("/admin/faults/civil-affairs")
