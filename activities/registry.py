"""Every activity the worker runs, bound to this process's settings, database and clients.

Each activity module exposes ``ACTIVITY_CLASSES``: classes constructed as
``cls(settings, db, gov)`` whose ``@activity.defn`` methods are registered."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from activities.gov import GovClients
from core.db import Database
from core.settings import Settings

ACTIVITY_MODULES = [
    "activities.case_store",
    "activities.claim",
    "activities.payments",
    "activities.payday",
    "activities.dispute",
    "activities.archive",
]


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
    out: list[Callable[..., Any]] = []
    for name in ACTIVITY_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        for cls in module.ACTIVITY_CLASSES:
            out.extend(_methods(cls(settings, db, gov)))
    return out
