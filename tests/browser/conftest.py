"""Fixtures for the console tests: Debian's Chromium driven by Playwright (async, in the test's
own event loop, beside the served app and the Temporal worker), the real app served on a port,
and signed-in pages per staff member."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect
from temporalio.client import Client

from api.app import create_app
from core.db import Database
from core.seed import DEMO_PASSWORD
from core.settings import Settings
from sim.testing import serve_app
from tests.factories import CaseEnv

CHROMIUM = os.environ.get("UIFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORT = {"width": 1440, "height": 900}

expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (one stat at session start)
        raise RuntimeError(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest_asyncio.fixture
async def console(pg_case_env: CaseEnv) -> AsyncIterator[str]:
    """The real app (PostgreSQL, time-skipping Temporal, a worker, the simulators) on a real port;
    yields its base URL."""
    app = create_app(pg_case_env.settings, db=pg_case_env.db, temporal=pg_case_env.env.client)
    async with serve_app(app) as base:
        yield base


SignIn = Callable[[str], Awaitable[Page]]


@pytest_asyncio.fixture
async def sign_in(browser: Browser, console: str) -> AsyncIterator[SignIn]:
    """``page = await sign_in("reviewer.xc")``: a fresh browser context (own cookies) signed in
    through the login form."""
    contexts = []

    async def _sign_in(login: str) -> Page:
        ctx = await browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = await ctx.new_page()
        await page.goto(f"{console}/console/login")
        await page.fill('input[name="login"]', login)
        await page.fill('input[name="password"]', DEMO_PASSWORD)
        await page.click('button[type="submit"]')
        await page.wait_for_url(f"{console}/console/inbox")
        return page

    yield _sign_in
    for ctx in contexts:
        await ctx.close()


@pytest_asyncio.fixture
async def console_http(settings: Settings, pg_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on PostgreSQL without Temporal, in process: for the pages that need only the
    read model (sign-in, inbox, case list, supervisor view, refusals)."""

    async def _no_temporal() -> Client:
        raise RuntimeError("no Temporal in this test")

    app = create_app(settings, db=pg_db, temporal_connect=_no_temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client
