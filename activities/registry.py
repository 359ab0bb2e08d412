"""Every activity the worker runs, bound to this process's settings, database and clients."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from activities.case_store import CaseStoreActivities
from activities.claim import ClaimActivities
from activities.gov import GovClients
from core.db import Database
from core.settings import Settings


def _methods(obj: object) -> list[Callable[..., Any]]:
    return [
        m
        for _, m in inspect.getmembers(obj, inspect.ismethod)
        if hasattr(m, "__temporal_activity_definition")
    ]


def build_activities(
    settings: Settings, db: Database, gov: GovClients | None = None
) -> list[Callable[..., Any]]:
    gov = gov or GovClients.from_settings(settings)
    return [*_methods(CaseStoreActivities(settings, db, gov)), *_methods(ClaimActivities(settings, db, gov))]
