"""Fixtures for the simulator tests: one real simulator per module (a server start and stop costs a
few hundred milliseconds), reset to its seeded state before every test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from activities.gov.base import GovClientConfig, close_all
from sim.testing import SimHandle, running_sim

AS_OF = date(2025, 6, 16)
SEED = 7
POPULATION = 150


@pytest.fixture(scope="module")
async def sim_server() -> AsyncIterator[SimHandle]:
    async with running_sim(seed=SEED, population=POPULATION, as_of=AS_OF) as handle:
        yield handle
        await close_all()


@pytest.fixture
async def sim(sim_server: SimHandle) -> SimHandle:
    sim_server.state.reset()
    return sim_server


@pytest.fixture
def config(sim: SimHandle) -> GovClientConfig:
    return GovClientConfig(base_url=sim.base_url, token=sim.token, timeout_seconds=2.0)


@pytest.fixture(scope="module")
async def admin_client(sim_server: SimHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim_server.base_url + "/admin", timeout=5.0) as client:
        yield client


@pytest.fixture
def admin(sim: SimHandle, admin_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The simulator's control surface (no token), on a simulator freshly reset for this test."""
    return admin_client
