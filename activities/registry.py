"""Every activity the worker runs, bound to this process's settings, database and clients.

Each activity module exposes ``ACTIVITY_CLASSES``: classes constructed as
``cls(settings, db, gov)`` whose ``@activity.defn`` methods are registered. The modules are
imported plainly, one per line: a missing or broken module fails the worker at start instead of
silently dropping a case type's activities."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from activities import (
    archive,
    case_store,
    claim,
    dispute,
    notices,
    payday,
    payments,
    period_events,
    period_ops,
    premium_refund,
    risk_scan,
    service_request,
    skill_alerts,
    skill_subsidy,
    verification,
)
from activities.gov import GovClients
from core.db import Database
from core.settings import Settings

ACTIVITY_CLASSES: list[type] = [
    *case_store.ACTIVITY_CLASSES,
    *claim.ACTIVITY_CLASSES,
    *payments.ACTIVITY_CLASSES,
    *payday.ACTIVITY_CLASSES,
    *period_ops.ACTIVITY_CLASSES,
    *dispute.ACTIVITY_CLASSES,
    *service_request.ACTIVITY_CLASSES,
    *skill_subsidy.ACTIVITY_CLASSES,
    *premium_refund.ACTIVITY_CLASSES,
    *skill_alerts.ACTIVITY_CLASSES,
    *archive.ACTIVITY_CLASSES,
    *verification.ACTIVITY_CLASSES,
    *risk_scan.ACTIVITY_CLASSES,
    *period_events.ACTIVITY_CLASSES,
    *notices.ACTIVITY_CLASSES,
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
    for cls in ACTIVITY_CLASSES:
        out.extend(_methods(cls(settings, db, gov)))
    return out
