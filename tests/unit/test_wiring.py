"""The worker's wiring is explicit and each activity runs under a timeout that fits it.

Why: a registry that skipped a missing module let a case type vanish from the worker without an
error; one 60 s timeout for every activity meant a minute lost per in-flight step after each
worker kill (issue 22 §2)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from activities.registry import ACTIVITY_CLASSES
from workflows.base import ACTIVITY_TIMEOUTS, LOOKUP_TIMEOUT, STEP_TIMEOUT
from workflows.registry import ALL_WORKFLOWS

ROOT = Path(__file__).resolve().parents[2]
# Long activities that heartbeat, with limits set where they are called: the archiver
# (workflows/archiver.py) and the pay day's chunks and reconciliation (workflows/payday.py).
HEARTBEATING = {"archive_closed_cases", "pay_chunk", "payday_reconcile"}


def _activity_names() -> set[str]:
    names = set()
    for cls in ACTIVITY_CLASSES:
        for attr in vars(cls).values():
            defn = getattr(attr, "__temporal_activity_definition", None)
            if defn is not None:
                names.add(defn.name)
    return names


def test_every_workflow_and_activity_module_is_listed_plainly() -> None:
    listed = {w.__module__ for w in ALL_WORKFLOWS}
    on_disk = {
        f"workflows.{p.stem}"
        for p in (ROOT / "workflows").glob("*.py")
        if "WORKFLOWS = [" in p.read_text(encoding="utf-8")
    }
    assert listed == on_disk
    modules = {c.__module__ for c in ACTIVITY_CLASSES}
    with_classes = {
        f"activities.{p.stem}"
        for p in (ROOT / "activities").glob("*.py")
        if "ACTIVITY_CLASSES = [" in p.read_text(encoding="utf-8")
    }
    assert modules == with_classes


def test_every_activity_has_a_timeout_that_fits_it() -> None:
    names = _activity_names()
    assert names - HEARTBEATING <= set(ACTIVITY_TIMEOUTS), sorted(
        names - HEARTBEATING - set(ACTIVITY_TIMEOUTS)
    )
    lookups = {n for n, t in ACTIVITY_TIMEOUTS.items() if t == LOOKUP_TIMEOUT}
    steps = {n for n, t in ACTIVITY_TIMEOUTS.items() if t == STEP_TIMEOUT}
    # Seconds for lookups and projections: recovery after a worker kill takes seconds, not a minute.
    assert {"check_registration", "fetch_contributions", "read_stop_reason", "notify"} <= lookups
    assert {"project_case", "write_audit", "compute_deadline", "assess_claim"} <= steps
    assert timedelta(seconds=15) >= LOOKUP_TIMEOUT and timedelta(seconds=10) >= STEP_TIMEOUT
