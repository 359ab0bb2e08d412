"""Read a claim's history and say what the engine had to do for it: how many activities,
timers, Updates, signals, search-attribute upserts and workflow tasks, and in which order (the
plan the floor replays). Counting from a real history rather than from the code means the floor
cannot drift from the claim unnoticed."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from cli.bench.floor_workflow import FloorPlan, FloorStep

_COMMAND_ATTRS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activity_task_scheduled_event_attributes",
    EventType.EVENT_TYPE_TIMER_STARTED: "timer_started_event_attributes",
    EventType.EVENT_TYPE_TIMER_CANCELED: "timer_canceled_event_attributes",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: (
        "start_child_workflow_execution_initiated_event_attributes"
    ),
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: (
        "upsert_workflow_search_attributes_event_attributes"
    ),
}


def _task_of(e: HistoryEvent) -> int | None:
    attr = _COMMAND_ATTRS.get(e.event_type)
    if attr is None:
        return None
    return int(getattr(e, attr).workflow_task_completed_event_id)


def counts(history: WorkflowHistory) -> dict[str, Any]:
    """Event counts of one history, plus the activity types scheduled (names, not payloads)."""
    by_type: Counter[str] = Counter(EventType.Name(e.event_type) for e in history.events)
    activity_types: Counter[str] = Counter(
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )

    def n(name: str) -> int:
        return by_type.get(f"EVENT_TYPE_{name}", 0)

    return {
        "events": len(history.events),
        "history_bytes": len(history.to_json()),
        "workflow_tasks": n("WORKFLOW_TASK_COMPLETED"),
        "activities": n("ACTIVITY_TASK_SCHEDULED"),
        "timers_started": n("TIMER_STARTED"),
        "timers_fired": n("TIMER_FIRED"),
        "timers_canceled": n("TIMER_CANCELED"),
        "updates": n("WORKFLOW_EXECUTION_UPDATE_ACCEPTED"),
        "signals": n("WORKFLOW_EXECUTION_SIGNALED"),
        "child_workflows": n("START_CHILD_WORKFLOW_EXECUTION_INITIATED"),
        "markers": n("MARKER_RECORDED"),
        "search_attribute_upserts": n("UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"),
        "activity_types": dict(sorted(activity_types.items())),
        "event_types": dict(sorted(by_type.items())),
    }


def floor_plan(history: WorkflowHistory) -> FloorPlan:
    """The claim's commands grouped by the workflow task that issued them, in order. A task that
    started a timer while an Update was to come is where the claim waits for the reviewer."""
    groups: dict[int, Counter[int]] = defaultdict(Counter)
    for e in history.events:
        task = _task_of(e)
        if task is not None:
            groups[task][e.event_type] += 1
    has_update = any(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in history.events
    )
    steps: list[FloorStep] = []
    waited = False
    for task in sorted(groups):
        g = groups[task]
        wait = bool(has_update and not waited and g[EventType.EVENT_TYPE_TIMER_STARTED])
        waited = waited or wait
        steps.append(
            FloorStep(
                activities=g[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED],
                upserts=g[EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES],
                children=g[EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED],
                timers=0 if wait else g[EventType.EVENT_TYPE_TIMER_STARTED],
                wait_for_update=wait,
            )
        )
    if has_update and not waited:
        # The Update came before the workflow reached its wait (no timer was needed): wait after
        # the last step that upserted, as the claim's projection announced readiness there.
        last = max((i for i, s in enumerate(steps) if s.upserts), default=len(steps) - 1)
        steps.insert(last + 1, FloorStep(wait_for_update=True))
    return FloorPlan(
        steps=[s for s in steps if s.activities or s.upserts or s.children or s.timers or s.wait_for_update]
    )


def plan_counts(plan: FloorPlan) -> dict[str, int]:
    return {
        "activities": sum(s.activities for s in plan.steps),
        "search_attribute_upserts": sum(s.upserts for s in plan.steps),
        "updates": sum(1 for s in plan.steps if s.wait_for_update),
        "child_workflows": sum(s.children for s in plan.steps),
        "timers": sum(1 for s in plan.steps if s.wait_for_update) + sum(s.timers for s in plan.steps),
        "steps": len(plan.steps),
    }
