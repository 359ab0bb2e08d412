"""The risk pages of the console (issue 16): the inspector's inbox of verification cases and the
supervisor's rule monitoring page, each refused to the other roles."""

from __future__ import annotations

import httpx

from tests.browser.test_console_pages import console_login


async def test_inspector_inbox_and_supervisor_rules_pages(console_http: httpx.AsyncClient) -> None:
    await console_login(console_http, "inspector.nmg")
    page = await console_http.get("/console/risk")
    assert page.status_code == 200 and "风险核查" in page.text
    assert (await console_http.get("/console/risk/rules")).status_code == 403

    await console_login(console_http, "supervisor.hhht")
    page = await console_http.get("/console/risk/rules")
    assert page.status_code == 200 and "需关注的规则" in page.text
    assert "领金期间死亡" in page.text  # a rule that never hit is listed for supervisors

    await console_login(console_http, "reviewer.xc")
    assert (await console_http.get("/console/risk")).status_code == 403
