"""One claim from intake to its final decision, through the public API only.

Plans: ``approve`` (the common case), ``reject`` (stays rejected, waiting for a re-application
that never comes) and ``reapply`` (rejected, re-applied at the counter, approved in the second
round). Each step survives an API process dying under it (see :mod:`cli.drill.api`): intake is
read back by its case id (derived from the applicant key, which the drill can compute because it
owns the stack's secret), a decision by the case's status."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from cli.bench.claims import claim_body
from cli.demo import applicant_id_token
from cli.drill.api import GaveUp, RoundRobinApi
from core.applicant import applicant_key
from core.settings import Settings

REGION = "150102"
PLANS = ("approve",) * 7 + ("reapply", "reapply", "reject")
EXPECTED_FINAL = {"approve": "approved", "reapply": "approved", "reject": "rejected"}
#: Statuses that mean a decision has been taken (read back after a request got no answer).
AFTER = {
    "approve": {"approved", "closed"},
    "reject": {"rejected", "closed"},
    "risk-finding": {"under_review", "approved", "rejected", "closed"},
}
CLEARED = {"outcome": "cleared", "finding": "演练：风险稽核员调取材料核实，风险提示已排除"}


def plan_for(i: int) -> str:
    return PLANS[i % len(PLANS)]


@dataclass
class ClaimRun:
    index: int
    plan: str
    person: dict[str, Any]
    case_id: str | None = None
    decisions: list[str] = field(default_factory=list)
    final_seen: str | None = None
    error: str | None = None
    started: float = 0.0
    finished: float = 0.0


def person_request(today_minus_45: str) -> dict[str, Any]:
    """An eligible, registered person insured in the drill's district who left work 45 days ago:
    registered (1 to 10 days after leaving) in an earlier calendar month, so the first benefit
    month is wholly past and due at once (docs/payments.md) and the run sees its payment."""
    return {
        "scenario": "eligible",
        "insured_region": REGION,
        "registered": True,
        "stop_date": today_minus_45,
    }


class Driver:
    """Runs claims with the given staff tokens; ``poll_s`` is how often a waiting claim is read."""

    def __init__(
        self,
        api: RoundRobinApi,
        settings: Settings,
        tokens: dict[str, dict[str, str]],
        sim_url: str,
        *,
        poll_s: float = 1.0,
        wait_limit_s: float = 1800.0,
    ) -> None:
        self.api = api
        self.settings = settings
        self.tokens = tokens
        self.sim_url = sim_url
        self.poll_s = poll_s
        self.wait_limit_s = wait_limit_s

    async def status(self, case_id: str) -> str | None:
        code, body = await self.api.get_json(f"/api/v1/claims/{case_id}", self.tokens["reviewer"])
        return str(body["status"]) if code == 200 and isinstance(body, dict) else None

    async def _applicant(self, id_number: str) -> dict[str, str]:
        """The applicant signed in as the portal does it (``cli.demo.applicant_headers``), with the
        session exchange sent through the round robin so a dead API process costs a retry."""
        id_token = await applicant_id_token(self.sim_url, id_number)
        r = await self.api.request("POST", "/api/v1/applicant/session", json={"id_token": id_token})
        if r is None or r.status_code != 200:
            raise GaveUp(f"applicant sign-in HTTP {None if r is None else r.status_code}")
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def _intake(self, c: ClaimRun) -> str:
        counter = c.index % 2 == 1
        expected_id = f"claim-{REGION}-{applicant_key(self.settings, c.person['id_number'])}-1"
        who = self.tokens["clerk"] if counter else await self._applicant(c.person["id_number"])

        async def settled() -> bool:
            return await self.status(expected_id) is not None

        r = await self.api.request(
            "POST",
            "/api/v1/claims",
            json=claim_body(c.person),
            headers={**who, "Idempotency-Key": str(uuid.uuid4())},
            settled=settled,
        )
        if r is None:
            return expected_id
        if r.status_code == 201:
            return str(r.json()["case_id"])
        # A repeat of an intake that went through before the process died: the claim exists.
        if r.status_code == 409 and await self.status(expected_id) is not None:
            self.api.stats.readback_resolved += 1
            return expected_id
        raise GaveUp(f"intake HTTP {r.status_code} {r.text[:160]}")

    async def _wait_for(self, case_id: str, wanted: set[str]) -> str:
        deadline = time.monotonic() + self.wait_limit_s
        while time.monotonic() < deadline:
            s = await self.status(case_id)
            if s in wanted:
                return s
            await asyncio.sleep(self.poll_s)
        raise GaveUp(f"{case_id} not in {sorted(wanted)} after {self.wait_limit_s:.0f}s")

    async def _decide(self, case_id: str, action: str, body: dict[str, Any], who: str) -> None:
        """A decision with one idempotency key for all its repeats; a 409 is read back too (the
        first attempt may have been carried out by a process that died before answering)."""
        key = str(uuid.uuid4())
        done = AFTER.get(action, set())
        last = ""

        async def settled() -> bool:
            return bool(done) and await self.status(case_id) in done

        for _ in range(20):
            r = await self.api.request(
                "POST",
                f"/api/v1/claims/{case_id}/{action}",
                json=body,
                headers={**self.tokens[who], "Idempotency-Key": key},
                settled=settled,
            )
            if r is None or r.status_code == 200:
                return
            if r.status_code == 409:
                last = r.text[:200]
                if await settled():
                    self.api.stats.readback_resolved += 1
                    return
                await asyncio.sleep(self.poll_s)  # the case moved on between read and click
                continue
            raise GaveUp(f"{action} HTTP {r.status_code} {r.text[:160]}")
        raise GaveUp(f"{action} refused 20 times, last: {last}")

    async def _to_review(self, case_id: str) -> None:
        """Wait until the claim is before a reviewer; a claim flagged by the risk rules is first
        cleared by the 风险稽核员, as at the agency (a claim cannot be decided before the finding)."""
        if await self._wait_for(case_id, {"under_review", "risk_verification"}) == "risk_verification":
            evidence = await self._evidence()
            await self._decide(case_id, "risk-finding", {**CLEARED, "evidence": [evidence]}, "inspector")
            await self._wait_for(case_id, {"under_review"})

    async def _evidence(self) -> dict[str, Any]:
        """The inspector's verification record, uploaded at the counter (a finding needs evidence)."""
        for _ in range(20):
            r = await self.api.request(
                "POST",
                "/api/v1/documents",
                data={"kind": "verification_record"},
                files={
                    "file": ("核查记录.pdf", b"%PDF-1.4\n% drill verification record\n", "application/pdf")
                },
                headers=self.tokens["clerk"],
            )
            if r is not None and r.status_code == 201:
                doc = r.json()
                return {k: doc[k] for k in ("id", "kind", "sha256", "filename")}
            await asyncio.sleep(self.poll_s)
        raise GaveUp("evidence upload failed 20 times")

    async def run(self, c: ClaimRun) -> None:
        c.started = time.perf_counter()
        try:
            c.case_id = await self._intake(c)
            cid = c.case_id
            await self._to_review(cid)
            if c.plan == "approve":
                await self._decide(cid, "approve", {"note": "演练：材料齐全"}, "reviewer")
            else:
                reject = {"reason_code": "other", "remedy": "演练：请补充材料后重新申请。", "note": "演练"}
                await self._decide(cid, "reject", reject, "reviewer")
                c.decisions.append("reject")
                if c.plan == "reapply":
                    await self._wait_for(cid, {"rejected"})
                    reapply = {"note": "演练：重新申请"}
                    await self._reapply(cid, reapply)
                    c.decisions.append("reapply")
                    await self._to_review(cid)
                    await self._decide(cid, "approve", {"note": "演练：第二轮通过"}, "reviewer")
            if c.plan != "reject":
                c.decisions.append("approve")
            c.final_seen = await self._wait_for(cid, {EXPECTED_FINAL[c.plan]})
        except (GaveUp, httpx.HTTPError, KeyError, ValueError) as e:
            c.error = f"{type(e).__name__}: {e}"[:300]
        finally:
            c.finished = time.perf_counter()

    async def _reapply(self, case_id: str, body: dict[str, Any]) -> None:
        key = str(uuid.uuid4())

        async def settled() -> bool:
            return await self.status(case_id) not in {"rejected", None}

        r = await self.api.request(
            "POST",
            f"/api/v1/claims/{case_id}/reapply",
            json=body,
            headers={**self.tokens["clerk"], "Idempotency-Key": key},
            settled=settled,
        )
        if r is not None and r.status_code != 200 and not await settled():
            raise GaveUp(f"reapply HTTP {r.status_code} {r.text[:160]}")


def days_ago(today: Any, n: int) -> str:
    return str((today - timedelta(days=n)).isoformat())
