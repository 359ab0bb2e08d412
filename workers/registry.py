"""Which workflows and activities run on which task queue. Case types add themselves here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.gov import GovClients
from core.db import Database
from core.settings import Settings


def workflows() -> list[type]:
    from workflows.registry import ALL_WORKFLOWS

    return list(ALL_WORKFLOWS)


def activities(settings: Settings, db: Database, gov: GovClients | None = None) -> list[Callable[..., Any]]:
    from activities.registry import build_activities

    return build_activities(settings, db, gov)
