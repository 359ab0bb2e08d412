"""Every console page of the demo, as each demo role, in Chinese: no Latin-letter status word or
internal code outside code-styled elements (``code``, ``.mono``, ``kbd``), issue 20.

The walk: the list pages every role reaches from the navigation, the search page, and the case
pages of real cases (a rejected claim, a claim under review, a blocked one and whatever else the
shared session database holds in the role's scope, a few per case type)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page

from sim.testing import SimHandle
from tests.browser.conftest import SignIn
from tests.factories import CaseEnv, at_review, claim_input, rejected_claim, sim_person, start_claim

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

ROLES = (
    "clerk.xc",
    "reviewer.xc",
    "second.hhht",
    "final.nmg",
    "supervisor.hhht",
    "inspector.nmg",
    "ops.nmg",
    "auditor.nmg",
)
PAGES = (
    "/console/inbox",
    "/console/cases",
    "/console/search",
    "/console/intake",
    "/console/intake/dispute",
    "/console/intake/subsidy",
    "/console/intake/premium-refund",
    "/console/requests/new",
    "/console/requests",
    "/console/supervisor",
    "/console/subsidies/alerts",
    "/console/risk",
    "/console/risk/rules",
)
#: Latin letters a page may show: units, file formats, names of products staff are told about.
ALLOWED = {"xlsx", "KB", "MB", "B", "PDF", "JPG", "PNG", "Temporal", "Web", "UI", "UTC", "ID", "QR"}
LATIN = re.compile(r"[A-Za-z][A-Za-z_.=/-]*[A-Za-z]|[A-Za-z]")
#: Document numbers issued by other systems (登记号DJ150102...) are data, not words.
#: Numbers of the agency's own notices (文书编号 150102-20261130-F4FF72: region, day, hex digits).
DOCUMENT_NO = re.compile(r"(?<![A-Za-z])[A-Z]{1,4}\d{6,}|\d{6}-\d{8}-[0-9A-F]{6}")

#: The page's visible text without code-styled elements (where identifiers belong).
VISIBLE_TEXT = """() => {
  const root = document.body.cloneNode(true);
  const skip = 'code, .mono, kbd, script, style, template, [hidden], .sr-only';
  root.querySelectorAll(skip).forEach(e => e.remove());
  return root.innerText;
}"""


async def latin_words(page: Page, context: bool = False) -> list[str]:
    """The Latin words on the page (with ``context``: each with the text around it, to say where)."""
    text = DOCUMENT_NO.sub("", await page.evaluate(VISIBLE_TEXT))
    if not context:
        return sorted({w for w in LATIN.findall(text) if w not in ALLOWED})
    return sorted(
        {
            text[max(0, m.start() - 15) : m.end() + 10].replace("\n", " ")
            for m in LATIN.finditer(text)
            if m.group(0) not in ALLOWED
        }
    )


async def test_every_console_page_is_chinese_for_every_role(
    sign_in: SignIn, console: str, sim: SimHandle, pg_case_env: CaseEnv
) -> None:
    p1 = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    await rejected_claim(pg_case_env, p1)
    p2 = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    await at_review(pg_case_env, await start_claim(pg_case_env, claim_input(pg_case_env.settings, p2)))
    p3 = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=False)
    await start_claim(pg_case_env, claim_input(pg_case_env.settings, p3))

    found: dict[str, list[str]] = {}
    for login in ROLES:
        page = await sign_in(login)
        urls = list(PAGES)
        await page.goto(f"{console}/console/cases?size=100")
        hrefs = await page.eval_on_selector_all(
            "#case-table tbody a[href^='/console/cases/']", "els => els.map(e => e.getAttribute('href'))"
        )
        per_type: dict[str, int] = {}
        for href in hrefs:
            kind = href.split("/")[3].split("-")[0]
            if per_type.get(kind, 0) < 3:
                per_type[kind] = per_type.get(kind, 0) + 1
                urls.append(href)
        for url in urls:
            # A page this role may not open answers with a Chinese error page: scanned as well.
            await page.goto(f"{console}{url}")
            words = await latin_words(page, context=True)
            if words:
                found[f"{login} {url}"] = words
        await page.context.close()
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


async def test_the_scan_sees_latin_status_words(sign_in: SignIn, console: str) -> None:
    """The scanner itself: a status word outside code elements is found, one inside is not."""
    page = await sign_in("clerk.xc")
    await page.goto(f"{console}/console/search")
    await page.evaluate(
        """() => { const m = document.querySelector('main');
        m.insertAdjacentHTML('beforeend', '<p>状态 active</p><code>claim_rejected</code>'); }"""
    )
    assert await latin_words(page) == ["active"]
