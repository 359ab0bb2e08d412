"""Fixtures for the replay tests: the checked-in histories and a replayer built exactly as the
worker runs workflows (the real workflow list, the worker's sandbox runner, the test codec key)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from core.replay import make_replayer
from core.settings import Settings
from core.temporal_client import make_data_converter
from workers.main import sandbox_runner
from workflows.registry import ALL_WORKFLOWS

HISTORIES = Path(__file__).resolve().parents[1] / "histories"


@pytest.fixture(scope="session")
def converter(settings: Settings) -> DataConverter:
    return make_data_converter(settings)


@pytest.fixture(scope="session")
def replayer(converter: DataConverter) -> Replayer:
    return make_replayer(ALL_WORKFLOWS, converter, sandbox_runner())
