"""Issue 12 item 7: lookups fail closed. "No record" only when the system says so in its typed body;
an HTML 404 from a gateway or a 404 for a wrong path is a fault: retried, then the case is blocked
for operations (never "no pension", "not receiving elsewhere")."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.claim import ClaimActivities, PersonRef
from activities.gov import GovClients
from activities.gov.base import LOOKUP_MAX_ATTEMPTS, ExternalUnavailable, GovClientConfig, close_all
from core.db import Database
from core.settings import Settings
from sim.testing import SimHandle, serve_app
from tests.factories import sim_person

NGINX_404 = (
    "<html><head><title>404 Not Found</title></head>"
    "<body><center><h1>404 Not Found</h1></center></body></html>"
)


async def _html_404(request: Request) -> HTMLResponse:
    return HTMLResponse(NGINX_404, status_code=404)


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[str]:
    """A gateway in front of the systems that answers every path with its own HTML 404 page."""
    app = Starlette()
    app.add_route("/{path:path}", _html_404, methods=["GET", "POST"])
    async with serve_app(app) as url:
        yield url
    await close_all()


def _acts(settings: Settings, db: Database, base_url: str, token: str) -> ClaimActivities:
    config = GovClientConfig(base_url=base_url, token=token, timeout_seconds=5)
    return ClaimActivities(settings, db, GovClients.from_config(config))


async def test_html_404_is_not_no_record(
    gateway: str, settings: Settings, sqlite_db: Database, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    acts = _acts(settings, sqlite_db, gateway, sim.token)
    ref = PersonRef(id_number=str(person["id_number"]))
    env = ActivityEnvironment()
    for check in (acts.check_pension, acts.check_cross_province, acts.fetch_contributions):
        with pytest.raises(ExternalUnavailable):  # retried by Temporal, not "not receiving"
            await env.run(check, ref)


async def test_a_wrong_path_404_is_a_fault(settings: Settings, sqlite_db: Database, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    acts = _acts(settings, sqlite_db, sim.base_url + "/old-gateway", sim.token)
    with pytest.raises(ExternalUnavailable):
        await ActivityEnvironment().run(acts.check_pension, PersonRef(id_number=str(person["id_number"])))


async def test_after_the_retries_the_case_is_blocked_not_decided(
    gateway: str, settings: Settings, sqlite_db: Database, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    acts = _acts(settings, sqlite_db, gateway, sim.token)
    env = ActivityEnvironment()
    env.info = env.info.__class__(**{**env.info.__dict__, "attempt": LOOKUP_MAX_ATTEMPTS})
    with pytest.raises(ApplicationError) as e:
        await env.run(acts.check_pension, PersonRef(id_number=str(person["id_number"])))
    assert e.value.non_retryable and e.value.type == "lookup.unavailable"
    assert "运维" in e.value.message


async def test_the_system_saying_no_record_is_still_an_answer(
    settings: Settings, sqlite_db: Database, sim: SimHandle
) -> None:
    acts = _acts(settings, sqlite_db, sim.base_url, sim.token)
    nobody = PersonRef(id_number="150102199001010019")
    async with httpx.AsyncClient(
        base_url=sim.base_url, headers={"Authorization": f"Bearer {sim.token}"}
    ) as c:
        r = await c.get(f"/insurance-record/persons/{nobody.id_number}/pension")
    assert r.status_code == 404 and r.json()["error"]["code"].endswith(".not_found"), r.text
    result = await ActivityEnvironment().run(acts.check_pension, nobody)
    assert result.receiving is False
