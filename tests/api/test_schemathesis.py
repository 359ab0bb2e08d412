"""Schemathesis over the whole OpenAPI: every operation, bounded generated input (20 examples per
operation, deterministic), each sent with one of a staff token (an administrator, who passes
every role check, or a county reviewer) and an employer token, drawn with the example. No answer
may be a server error: bad input is a 4xx with a Chinese message, never a 500.

The app runs on a real socket in its own thread and event loop (its database connections and
Temporal client are made there), against the session's PostgreSQL and Temporal dev server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlmodel import delete
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.db import Database
from core.security import issue_token
from core.settings import Settings
from models.tables import LoginThrottle
from sim.testing import running_sim, serve_app
from tests.conftest import prepared_db, scratch_database
from tests.waiting import WAIT_S

MAX_EXAMPLES = 20
pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def api_server(
    settings: Settings, pg_url: str, pg_db: Database, local_env: WorkflowEnvironment
) -> Iterator[str]:
    """The API with everything it talks to running: Temporal, PostgreSQL and the simulators (the
    applicant sign-in routes ask the simulated identity provider). The simulators are served from
    the API's own thread: the session's event loop does not run while this synchronous test does."""
    cfg = settings.model_copy(
        update={
            "database_url": pg_url,
            "temporal_address": local_env.client.service_client.config.target_host,
            "temporal_namespace": local_env.client.namespace,
        }
    )
    started = threading.Event()
    stop: list[asyncio.Event] = []
    base: list[str] = []

    async def serve() -> None:
        # Its own database: the thousands of generated requests (service requests with random
        # Unicode content among them) stay out of the session's, whose console pages other tests
        # read (the Chinese-only scan read that content as "not Chinese").
        async with scratch_database("uiflow_schemathesis") as url:
            await (await prepared_db(url, cfg)).dispose()
            await _serve(cfg.model_copy(update={"database_url": url}))

    async def _serve(cfg: Settings) -> None:
        async with running_sim(seed=7, population=50) as sim:
            app = create_app(cfg.model_copy(update={"sim_base_url": sim.base_url, "sim_token": sim.token}))
            stop.append(asyncio.Event())
            async with serve_app(app) as url:
                base.append(url)
                started.set()
                await stop[0].wait()
            # Thousands of generated logins from 127.0.0.1 lock that address out (api/login_guard.py);
            # the rest of the session signs in from the same address, so the lockout ends here.
            async with app.state.db.session() as s:
                await s.exec(delete(LoginThrottle))
                await s.commit()
            await app.state.db.dispose()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(WAIT_S), "the API did not start"
    yield base[0]
    loop.call_soon_threadsafe(stop[0].set)
    thread.join(30)


def _tokens(s: Settings) -> dict[str, dict[str, str]]:
    people = {
        "admin": dict(login="admin", roles=["admin"], region_code="150000", name="管理员"),
        "reviewer": dict(login="reviewer.xc", roles=["reviewer"], region_code="150102", name="李审核"),
        "employer": dict(login="91150102MA0N000017", roles=["employer"], region_code="150102", name="某公司"),
    }
    return {k: {"Authorization": f"Bearer {issue_token(s, **v)[0]}"} for k, v in people.items()}  # type: ignore[arg-type]


def test_no_server_error_anywhere_in_the_openapi(api_server: str, settings: Settings) -> None:
    # The document is built on first request (seconds on a loaded host): the suite's one bound,
    # not the loader's default 10 s.
    schema = schemathesis.openapi.from_url(f"{api_server}/openapi.json", timeout=WAIT_S)
    tokens = _tokens(settings)
    errors: list[str] = []
    operations = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings_for_run
        @given(case=operation.as_strategy(), who=st.sampled_from(sorted(tokens)))
        def run(case: Any, who: str) -> None:
            headers = tokens[who]
            try:
                r = case.call(base_url=api_server, headers=headers, timeout=WAIT_S)
            except requests.RequestException as e:
                # Recorded, not raised: an exception inside hypothesis's run is reported through a
                # deep traceback, and on Python 3.11 formatting it while the API's own thread
                # formats one can crash pytest itself (the ast module's shared recursion counter,
                # cpython#106905), losing the whole run's report.
                errors.append(f"{who} {case.method} {case.formatted_path} -> no answer: {type(e).__name__}")
                return
            if r.status_code >= 500:
                errors.append(f"{who} {case.method} {case.formatted_path} -> {r.status_code} {r.text[:200]}")
                errors.append(f"    {case.as_curl_command(headers=headers)[:600]}")

        run()

    assert operations >= 40, "the OpenAPI lost its operations"
    assert not errors, "\n".join(errors)


settings_for_run = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
