"""The history archive: closed runs exported with their encrypted payloads, hash-chained per case,
anchored in the audit log; verification finds a one-byte change, a forged re-hash, a missing run;
the daily archiver runs from a Temporal Schedule and archives what visibility lists as closed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import col, select
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

import cli.audit_cmd as audit_cmd
from activities.archive import ArchiveActivities
from activities.gov import GovClients
from core import archive as arch
from core.db import Database
from core.replay import (
    histories_from_archive,
    histories_from_query,
    load_history_file,
    make_replayer,
    replay_all,
)
from core.settings import Settings
from core.temporal_client import make_data_converter
from models.claim import ApproveCommand
from models.tables import AuditLog, HistoryArchive
from tests.audit.chain_workflow import ChainedCaseWorkflow, ChainInput
from tests.factories import LEAGUE_REVIEWER, REVIEWER
from tests.replay.conftest import HISTORIES
from tests.waiting import polls
from workers.main import sandbox_runner
from workflows.archiver import SCHEDULE_ID, ArchiverWorkflow

runner = CliRunner()


def _history(case_id: str) -> WorkflowHistory:
    """A closed claim history, under a fresh case id."""
    h = load_history_file(HISTORIES / "benefit_claim__counter_approve.json")
    return WorkflowHistory(case_id, h.events)


async def _archive_file(db: Database, case_id: str) -> arch.ArchivedRun:
    async with db.session() as s:
        out = await arch.archive_history(s, _history(case_id))
        await s.commit()
    return out


async def _flip_one_byte(db: Database, case_id: str) -> str:
    """Change one character of the stored history (inside a base64 ciphertext); return the
    original text so the caller can restore it."""
    async with db.session() as s:
        row = (await s.exec(select(HistoryArchive).where(HistoryArchive.workflow_id == case_id))).one()
        original = row.history_json
        i = original.index('"data": "') + len('"data": "') + 5
        changed = original[:i] + ("A" if original[i] != "A" else "B") + original[i + 1 :]
        assert (
            len(changed) == len(original) and sum(a != b for a, b in zip(changed, original, strict=True)) == 1
        )
        await s.exec(  # type: ignore[call-overload]
            text("UPDATE history_archive SET history_json = :h WHERE id = :id").bindparams(
                h=changed, id=row.id
            )
        )
        await s.commit()
    return original


async def _restore(db: Database, case_id: str, original: str) -> None:
    async with db.session() as s:
        await s.exec(  # type: ignore[call-overload]
            text("UPDATE history_archive SET history_json = :h WHERE workflow_id = :w").bindparams(
                h=original, w=case_id
            )
        )
        await s.commit()


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(audit_cmd, "get_settings", lambda: settings)
    r = runner.invoke(audit_cmd.app, list(args))
    return r.exit_code, r.output


async def test_an_archived_history_verifies_and_one_changed_byte_fails(
    fresh_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = f"claim-150102-{uuid.uuid4().hex[:8]}"
    out = await _archive_file(fresh_db, case_id)
    assert out.created and out.seq == 1
    async with fresh_db.session() as s:
        row = (await s.exec(select(HistoryArchive))).one()
        assert row.history_json == _history(case_id).to_json()  # exactly as exported, still encrypted
        assert row.content_hash == arch.content_hash(row.history_json) and row.prev_hash == arch.GENESIS
        assert (await arch.verify_archive(s)).ok
    cli_settings = settings.model_copy(update={"database_url": fresh_db.url})
    code, output = await asyncio.to_thread(_cli, cli_settings, monkeypatch, "verify")
    assert code == 0 and "1 个案件，1 段，全部校验通过" in output

    original = await _flip_one_byte(fresh_db, case_id)
    async with fresh_db.session() as s:
        result = await arch.verify_archive(s)
    assert not result.ok
    [failure] = result.failures
    assert failure.workflow_id == case_id
    assert any("内容哈希不符" in p for p in failure.problems)
    code, output = await asyncio.to_thread(_cli, cli_settings, monkeypatch, "verify")
    assert code == 1
    assert case_id in output and "内容哈希不符" in output

    await _restore(fresh_db, case_id, original)
    code, _ = await asyncio.to_thread(_cli, cli_settings, monkeypatch, "verify")
    assert code == 0


async def test_a_forged_rehash_is_caught_by_the_audit_anchor(fresh_db: Database) -> None:
    """Someone with write access edits a history and recomputes both of its hashes: the chain is
    self-consistent again, but the audit-log entry written at archive time no longer matches."""
    case_id = f"claim-150102-{uuid.uuid4().hex[:8]}"
    await _archive_file(fresh_db, case_id)
    async with fresh_db.session() as s:
        row = (await s.exec(select(HistoryArchive))).one()
        row.history_json = row.history_json.replace('"eventId": "2"', '"eventId": "2" ', 1)
        row.content_hash = arch.content_hash(row.history_json)
        row.chain_hash = arch.chain_hash(
            row.prev_hash,
            row.workflow_id,
            row.run_id,
            row.workflow_type,
            row.seq,
            row.content_hash,
            row.archived_at,
        )
        s.add(row)
        await s.commit()
        result = await arch.verify_archive(s)
    [failure] = result.failures
    assert failure.problems == [f"第1段（run {row.run_id}）：审计日志中没有与之相符的归档记录"]


async def test_continued_runs_are_archived_in_order_once(
    chained_case: str,
    tskip_env: WorkflowEnvironment,
    fresh_db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli_settings = settings.model_copy(
        update={
            "database_url": fresh_db.url,
            "temporal_address": tskip_env.client.service_client.config.target_host,
            "temporal_namespace": "default",
        }
    )
    code, output = await asyncio.to_thread(_cli, cli_settings, monkeypatch, "archive", "--case", chained_case)
    assert code == 0, output
    assert "新归档 2 段" in output
    code, output = await asyncio.to_thread(_cli, cli_settings, monkeypatch, "archive", "--case", chained_case)
    assert code == 0 and "新归档 0 段，已在归档中 2 段" in output

    chain = await arch.fetch_chain(tskip_env.client, chained_case)
    async with fresh_db.session() as s:
        rows = (await s.exec(select(HistoryArchive).order_by(col(HistoryArchive.seq)))).all()
        anchors = (await s.exec(select(AuditLog).where(AuditLog.action == arch.ARCHIVE_ACTION))).all()
        assert [(r.seq, r.run_id) for r in rows] == [(1, chain[0].run_id), (2, chain[1].run_id)]
        assert rows[1].prev_hash == rows[0].chain_hash
        assert len(anchors) == 2 and {a.case_id for a in anchors} == {chained_case}
        assert (await arch.verify_archive(s)).ok
        # The archived runs replay, as the archive source of `uiflow audit replay --archive`.
        replayer = make_replayer([ChainedCaseWorkflow], make_data_converter(settings), sandbox_runner())
        summary = await replay_all(replayer, histories_from_archive(fresh_db, chained_case))
        assert summary.total == 2 and summary.ok

        # Removing the first run breaks the chain, and says so.
        await s.delete(rows[0])
        await s.commit()
        result = await arch.verify_archive(s)
    [failure] = result.failures
    assert any("序号应为1" in p for p in failure.problems)
    assert any("链接断开" in p for p in failure.problems)
    assert any("链首缺失" in p for p in failure.problems)


async def test_an_open_run_is_not_archived(fresh_db: Database) -> None:
    full = _history("claim-open")
    open_run = WorkflowHistory("claim-open", full.events[:20])
    async with fresh_db.session() as s:
        with pytest.raises(arch.ArchiveError, match="still open"):
            await arch.archive_history(s, open_run)


@pytest.mark.postgres
async def test_archive_and_verify_on_postgres(pg_db: Database) -> None:
    case_id = f"claim-150102-{uuid.uuid4().hex[:8]}"
    first = await _archive_file(pg_db, case_id)
    again = await _archive_file(pg_db, case_id)
    assert first.created and not again.created and again.chain_hash == first.chain_hash
    async with pg_db.session() as s:
        assert (await arch.verify_archive(s, case_id)).ok
    original = await _flip_one_byte(pg_db, case_id)
    try:
        async with pg_db.session() as s:
            result = await arch.verify_archive(s, case_id)
        assert not result.ok and "内容哈希不符" in result.failures[0].problems[0]
    finally:
        await _restore(pg_db, case_id, original)
    async with pg_db.session() as s:
        assert (await arch.verify_archive(s, case_id)).ok


@pytest.mark.devserver
async def test_the_daily_schedule_archives_closed_cases_from_visibility(
    local_env: WorkflowEnvironment, fresh_db: Database, settings: Settings
) -> None:
    client = local_env.client
    queue = f"archiver-{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(
        update={
            "temporal_address": client.service_client.config.target_host,
            "temporal_namespace": "default",
            "task_queue": queue,
            "database_url": fresh_db.url,
        }
    )
    acts = ArchiveActivities(local, fresh_db, GovClients.from_settings(local))
    wid = f"chain-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[ArchiverWorkflow, ChainedCaseWorkflow],
        activities=[acts.archive_closed_cases],
        workflow_runner=sandbox_runner(),
    ):
        h = await client.start_workflow(ChainedCaseWorkflow.run, ChainInput(), id=wid, task_queue=queue)
        await h.execute_update(ChainedCaseWorkflow.decide, ApproveCommand(actor=REVIEWER))
        latest = client.get_workflow_handle(wid)
        for _ in polls():  # until the second run has started
            if (await latest.describe()).run_id != h.result_run_id:
                break
            await asyncio.sleep(0.05)
        await latest.execute_update("decide", ApproveCommand(actor=LEAGUE_REVIEWER))
        await latest.result()
        closed = f"WorkflowId = '{wid}' AND ExecutionStatus != 'Running'"
        for _ in polls():  # visibility is eventually consistent
            if (await client.count_workflows(closed)).count == 2:
                break
            await asyncio.sleep(0.1)

        # The query source of `uiflow audit replay --query`.
        replayer = make_replayer([ChainedCaseWorkflow], make_data_converter(settings), sandbox_runner())
        summary = await replay_all(replayer, histories_from_query(client, f"WorkflowId = '{wid}'"))
        assert summary.total == 2 and summary.ok

        assert await audit_cmd._schedule_archiver(local, 2, 30, 7) is True
        assert await audit_cmd._schedule_archiver(local, 3, 0, 7) is False  # updated, not duplicated
        schedule = client.get_schedule_handle(SCHEDULE_ID)
        try:
            desc = await schedule.describe()
            cal = desc.schedule.spec.calendars[0]
            assert (cal.hour[0].start, cal.minute[0].start) == (3, 0)
            assert desc.schedule.spec.time_zone_name == "Asia/Shanghai"
            await schedule.trigger()
            run_id = None
            for _ in polls():
                actions = (await schedule.describe()).info.recent_actions
                if actions:
                    run_id = actions[-1].action.workflow_id  # type: ignore[attr-defined]
                    break
                await asyncio.sleep(0.1)
            assert run_id is not None
            result = await asyncio.wait_for(client.get_workflow_handle(run_id).result(), timeout=30)
        finally:
            await schedule.delete()
    assert result["archived"] >= 2 and not result["failed"]
    async with fresh_db.session() as s:
        rows = (
            await s.exec(
                select(HistoryArchive)
                .where(HistoryArchive.workflow_id == wid)
                .order_by(col(HistoryArchive.seq))
            )
        ).all()
        assert [r.seq for r in rows] == [1, 2]
        assert all(r.workflow_type == "ChainedCaseWorkflow" for r in rows)
    report = await arch.verify_all(fresh_db)
    assert report.ok, report


def test_the_visibility_window_keeps_sub_second_precision() -> None:
    """A run that closed in the same second the archiver started is inside its window."""
    until = datetime(2026, 11, 26, 6, 15, 30, 812345, tzinfo=UTC)
    query = arch.closed_query(until - timedelta(days=7), until)
    assert "CloseTime < '2026-11-26T06:15:30.812345Z'" in query
    assert "CloseTime >= '2026-11-19T06:15:30.812345Z'" in query
    assert "WorkflowType != 'ArchiverWorkflow'" in query and "ExecutionStatus != 'Running'" in query
