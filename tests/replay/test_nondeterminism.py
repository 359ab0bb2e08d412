"""Replay fails, with a clear message and a non-zero exit, when the code no longer produces the
recorded command sequence: here a copy of the claim workflow that inserts an extra activity."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from temporalio.converter import DataConverter
from temporalio.workflow import NondeterminismError
from typer.testing import CliRunner

import cli.audit_cmd as audit_cmd
from core.replay import from_list, load_history_file, make_replayer, replay_all
from core.settings import Settings
from tests.replay.conftest import HISTORIES
from tests.replay.nondeterministic import ExtraActivityClaimWorkflow
from workers.main import sandbox_runner
from workflows.archiver import ArchiverWorkflow

runner = CliRunner()
COUNTER = HISTORIES / "benefit_claim__counter_approve.json"


async def test_an_inserted_activity_is_a_nondeterminism_error(converter: DataConverter) -> None:
    bad = make_replayer([ExtraActivityClaimWorkflow], converter, sandbox_runner())
    with pytest.raises(NondeterminismError, match="Nondeterminism"):
        await bad.replay_workflow(load_history_file(COUNTER))
    summary = await replay_all(bad, from_list([load_history_file(COUNTER)]))
    [failure] = summary.failures
    assert failure.error_type == "NondeterminismError"
    assert failure.workflow_id == "benefit_claim__counter_approve"  # names the file
    assert failure.message is not None and failure.message.startswith("[TMPRL1100] Nondeterminism error")
    assert "Failure {" not in failure.message  # the SDK core's debug wrapping is stripped


@pytest.fixture
def cli_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    monkeypatch.setattr(audit_cmd, "get_settings", lambda: settings)
    return settings


def test_cli_replay_of_the_checked_in_histories_exits_zero(cli_settings: Settings) -> None:
    r = runner.invoke(audit_cmd.app, ["replay", "--dir", str(HISTORIES)])
    assert r.exit_code == 0, r.output
    n = len(list(HISTORIES.glob("*.json")))
    assert f"│ {n:>6} │ {n:>4} │    0 │" in r.output
    assert "全部历史均可用当前代码回放" in r.output


def test_cli_replay_exits_non_zero_naming_the_history(
    cli_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shutil.copy(COUNTER, tmp_path / COUNTER.name)
    monkeypatch.setattr(audit_cmd, "_workflows", lambda: [ExtraActivityClaimWorkflow, ArchiverWorkflow])
    r = runner.invoke(audit_cmd.app, ["replay", "--dir", str(tmp_path)])
    assert r.exit_code == 1, r.output
    assert "benefit_claim__counter_approve" in r.output
    assert "NondeterminismError" in r.output and "[TMPRL1100] Nondeterminism error" in r.output
    assert "workflow.patched()" in r.output


def test_cli_replay_refuses_without_a_source_and_fails_on_nothing_to_replay(
    cli_settings: Settings, tmp_path: Path
) -> None:
    r = runner.invoke(audit_cmd.app, ["replay"])
    assert r.exit_code == 2 and "请至少指定一个来源" in r.output
    r = runner.invoke(audit_cmd.app, ["replay", "--dir", str(tmp_path)])
    assert r.exit_code == 1 and "没有找到可回放的历史" in r.output
