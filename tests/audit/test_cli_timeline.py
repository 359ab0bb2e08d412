"""``uiflow audit timeline``: the same builder as the API, from the archive when Temporal no
longer has the case, with the workflow's own narrative recovered by replay; every view audited."""

from __future__ import annotations

import asyncio
import getpass
import json

import pytest
from sqlmodel import select
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

import cli.audit_cmd as audit_cmd
from core import archive as arch
from core.db import Database
from core.replay import load_history_file
from core.settings import Settings
from models.tables import AuditLog
from tests.replay.conftest import HISTORIES

runner = CliRunner()


async def test_cli_timeline_of_an_archived_case(
    fresh_db: Database, tskip_env: WorkflowEnvironment, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = "claim-150102-cli-timeline"
    history = load_history_file(HISTORIES / "benefit_claim__request_documents_supply_approve.json")
    async with fresh_db.session() as s:
        await arch.archive_history(s, WorkflowHistory(case_id, history.events))
        await s.commit()
    local = settings.model_copy(
        update={
            "database_url": fresh_db.url,
            "temporal_address": tskip_env.client.service_client.config.target_host,
            "temporal_namespace": "default",
        }
    )
    monkeypatch.setattr(audit_cmd, "get_settings", lambda: local)

    r = await asyncio.to_thread(runner.invoke, audit_cmd.app, ["timeline", case_id, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["source"], doc["decrypted"]) == ("archive", True)
    events = doc["events"]
    decisions = [(e["action"], e["actor"]) for e in events if e["category"] == "decision"]
    assert ("request_documents", "reviewer.xc") in decisions and ("approve", "reviewer.xc") in decisions
    supplied = next(e for e in events if e["action"] == "supply_documents")
    assert supplied["actor_kind"] == "applicant" and len(supplied["evidence"]["documents"]) == 1
    narrative = [e["action"] for e in events if e["source"] == "workflow"]
    assert "review.documents_requested" in narrative and "documents.supplied" in narrative

    r = await asyncio.to_thread(runner.invoke, audit_cmd.app, ["timeline", case_id, "--redact"])
    assert r.exit_code == 0, r.output
    assert "未解密" in r.stdout and "reviewer.xc" not in r.stdout

    async with fresh_db.session() as s:
        rows = (await s.exec(select(AuditLog).where(AuditLog.action == "case.timeline.viewed"))).all()
    assert [(v.actor, v.case_id, v.detail["decrypted"]) for v in rows] == [
        (f"cli:{getpass.getuser()}", case_id, True),
        (f"cli:{getpass.getuser()}", case_id, False),
    ]
    r = await asyncio.to_thread(runner.invoke, audit_cmd.app, ["timeline", "claim-150102-nowhere"])
    assert r.exit_code == 2 and "找不到案件" in r.output
