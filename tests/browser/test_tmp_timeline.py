import pytest

from sim.testing import SimHandle
from tests.browser.conftest import SignIn
from tests.factories import CaseEnv, rejected_claim, sim_person

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


async def test_show(sign_in: SignIn, console: str, sim: SimHandle, pg_case_env: CaseEnv) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    h = await rejected_claim(pg_case_env, person)
    page = await sign_in("reviewer.xc")
    await page.goto(f"{console}/console/cases/{h.id}")
    for li in await page.locator("#timeline li").all():
        print("ROW", await li.get_attribute("data-cat"), (await li.inner_text()).replace("\n", " | "))
