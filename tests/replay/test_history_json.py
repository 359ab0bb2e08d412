"""The fast history reader builds exactly the SDK's protobuf, and hands the SDK what it cannot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory

from core.history_json import Unsupported, history_from_json, parse_history
from tests.replay.conftest import HISTORIES


def _sdk(text: str) -> bytes:
    h = WorkflowHistory.from_json("x", json.loads(text))
    return History(events=h.events).SerializeToString(deterministic=True)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
def test_every_recorded_history_reads_byte_for_byte_as_the_sdk_reads_it(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert parse_history(json.loads(text)).SerializeToString(deterministic=True) == _sdk(text)


def _counter() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HISTORIES / "benefit_claim__counter_approve.json").read_text())
    return doc


def test_timestamps_with_an_offset_nanoseconds_and_durations_read_as_the_sdk_reads_them() -> None:
    doc = _counter()
    doc["events"][0]["eventTime"] = "2026-11-26T13:49:43.123456789+08:00"
    doc["events"][1]["eventTime"] = "1969-12-31T23:59:59.5Z"
    doc["events"][0]["workflowExecutionStartedEventAttributes"]["workflowTaskTimeout"] = "0.250s"
    text = json.dumps(doc)
    assert parse_history(json.loads(text)).SerializeToString(deterministic=True) == _sdk(text)


def test_what_it_cannot_read_exactly_goes_to_the_sdk() -> None:
    doc = _counter()
    # The older PascalCase enum form, which only the SDK's reader rewrites.
    doc["events"][0]["eventType"] = "WorkflowExecutionStarted"
    text = json.dumps(doc)
    with pytest.raises(Unsupported):
        parse_history(json.loads(text))
    h = history_from_json("claim", text)
    assert h.workflow_id == "claim"
    assert History(events=h.events).SerializeToString(deterministic=True) == _sdk(text)
