"""Replay at full speed checks the same: the fast runner (no sandbox, inline) and the process pool
fail every nondeterministic change the worker's sandbox runner fails, with the same error; and a
history sealed with a key the ring lacks is reported as a key problem, not as nondeterminism."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli.audit_cmd as audit_cmd
from core.replay import (
    Cause,
    ReplayOutcome,
    ReplaySummary,
    from_list,
    histories_from_dir,
    history_paths,
    load_history_file,
    replay_all,
)
from core.replay_pool import ReplaySetup, replay_parallel
from core.settings import Settings
from tests.replay.conftest import HISTORIES
from tests.replay.nondeterministic import (
    BlockingClaimWorkflow,
    ExtraActivityClaimWorkflow,
    ExtraTimerClaimWorkflow,
)
from workers.main import sandbox_runner
from workflows.archiver import ArchiverWorkflow
from workflows.registry import ALL_WORKFLOWS

runner = CliRunner()
COUNTER = HISTORIES / "benefit_claim__counter_approve.json"
CLAIMS = sorted(HISTORIES.glob("benefit_claim__*.json"))
OTHER_KEY = base64.b64encode(b"o" * 32).decode()


def _setup(settings: Settings, workflows: tuple[type, ...], *, sandboxed: bool) -> ReplaySetup:
    keys, active = settings.codec_keyring()
    return ReplaySetup(workflows, keys, active, runner=sandbox_runner if sandboxed else None)


@pytest.mark.parametrize("bad", [ExtraActivityClaimWorkflow, ExtraTimerClaimWorkflow])
async def test_the_fast_runner_fails_every_change_the_sandbox_fails_with_the_same_error(
    settings: Settings, bad: type
) -> None:
    histories = [load_history_file(p) for p in CLAIMS]
    results: dict[bool, ReplaySummary] = {}
    for sandboxed in (True, False):
        setup = _setup(settings, (bad,), sandboxed=sandboxed)
        results[sandboxed] = await replay_all(setup.replayer(), from_list(histories))
    slow, fast = results[True], results[False]
    assert slow.total == fast.total == len(CLAIMS)
    assert len(slow.failures) == len(CLAIMS)  # every claim history starts with the changed step
    assert [(o.workflow_id, o.error_type, o.message, o.cause) for o in fast.failures] == [
        (o.workflow_id, o.error_type, o.message, o.cause) for o in slow.failures
    ]
    assert {o.error_type for o in fast.failures} == {"NondeterminismError"}
    assert fast.causes() == {"nondeterminism"}


async def test_fast_pooled_and_sandboxed_replay_agree_on_good_and_bad_histories(settings: Settings) -> None:
    """Every recorded history, with the claim workflow changed without a patch: the claim
    histories fail, the others pass, and each runner, in process or pooled, gives the same outcome
    for every history."""
    workflows = tuple(w for w in ALL_WORKFLOWS if w.__name__ != "BenefitClaimWorkflow")
    workflows += (ExtraActivityClaimWorkflow,)
    paths = sorted(HISTORIES.glob("*.json"))
    histories = [load_history_file(p) for p in paths]

    def table(summary: ReplaySummary) -> list[tuple[str, bool, str | None, Cause | None]]:
        return sorted((o.workflow_id, o.ok, o.error_type, o.cause) for o in summary.outcomes)

    sandboxed = await replay_all(_setup(settings, workflows, sandboxed=True).replayer(), from_list(histories))
    fast = await replay_all(_setup(settings, workflows, sandboxed=False).replayer(), from_list(histories))
    pooled = await replay_parallel(
        _setup(settings, workflows, sandboxed=False), history_paths(HISTORIES), processes=2
    )
    assert table(fast) == table(sandboxed) == table(pooled)
    assert sorted(o.workflow_id for o in sandboxed.failures) == sorted(p.stem for p in CLAIMS)
    assert sandboxed.causes() == {"nondeterminism"}
    assert len(sandboxed.outcomes) - len(CLAIMS) > 20  # the good ones: every other case type


async def test_the_pool_replays_every_checked_in_history(settings: Settings) -> None:
    seen: list[str] = []
    summary = await replay_parallel(
        _setup(settings, tuple(ALL_WORKFLOWS), sandboxed=False),
        histories_from_dir(HISTORIES),
        processes=2,
        on_result=lambda o: seen.append(o.workflow_id),
    )
    names = sorted(p.stem for p in HISTORIES.glob("*.json"))
    assert summary.total == len(names) and sorted(seen) == names
    assert summary.ok, [(o.workflow_id, o.message) for o in summary.failures]


async def test_the_pool_catches_nondeterminism_and_names_each_history(
    settings: Settings, tmp_path: Path
) -> None:
    for i in range(20):
        shutil.copy(COUNTER, tmp_path / f"claim_{i:02d}.json")
    shutil.copy(HISTORIES / "archiver__named_cases.json", tmp_path)
    summary = await replay_parallel(
        _setup(settings, (ExtraActivityClaimWorkflow, ArchiverWorkflow), sandboxed=False),
        histories_from_dir(tmp_path),
        processes=2,
    )
    assert summary.total == 21
    assert sorted(o.workflow_id for o in summary.failures) == [f"claim_{i:02d}" for i in range(20)]
    assert {o.error_type for o in summary.failures} == {"NondeterminismError"}
    assert all(
        o.message and o.message.startswith("[TMPRL1100] Nondeterminism error") for o in summary.failures
    )


# --- the key ring -------------------------------------------------------------------------------


def _with_ring(settings: Settings, ring: str, active: str) -> Settings:
    return settings.model_copy(update={"codec_keys": ring, "codec_active_key": active})


async def _counter_failure(settings: Settings, *, sandboxed: bool) -> ReplayOutcome:
    """The one failure of replaying the counter claim with ``settings``' key ring."""
    summary = await replay_all(
        _setup(settings, tuple(ALL_WORKFLOWS), sandboxed=sandboxed).replayer(),
        from_list([load_history_file(COUNTER)]),
    )
    [failure] = summary.failures
    assert failure.message is not None
    return failure


@pytest.mark.parametrize("sandboxed", [True, False])
async def test_a_key_missing_from_the_ring_is_named_with_how_to_add_it(
    settings: Settings, sandboxed: bool
) -> None:
    failure = await _counter_failure(_with_ring(settings, f"k2:{OTHER_KEY}", "k2"), sandboxed=sandboxed)
    assert failure.cause == "codec_key" and failure.error_type == "CodecKeyMissing"
    assert failure.message is not None
    assert "'t1'" in failure.message and "k2" in failure.message  # the missing id, and the ring
    assert "UIFLOW_CODEC_KEYS" in failure.message and "t1:<base64" in failure.message
    assert "Encoded failure" not in failure.message


async def test_a_wrong_key_under_the_right_id_is_named(settings: Settings) -> None:
    failure = await _counter_failure(_with_ring(settings, f"t1:{OTHER_KEY}", "t1"), sandboxed=False)
    assert failure.cause == "codec_key" and failure.error_type == "CodecKeyMismatch"
    assert failure.message is not None and "'t1'" in failure.message and "认证失败" in failure.message


def test_cli_tells_the_auditor_about_the_key_not_about_patching(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path
) -> None:
    monkeypatch.setattr(audit_cmd, "get_settings", lambda: _with_ring(settings, f"k2:{OTHER_KEY}", "k2"))
    shutil.copy(COUNTER, tmp_path / COUNTER.name)
    r = runner.invoke(audit_cmd.app, ["replay", "--dir", str(tmp_path)])
    assert r.exit_code == 1, r.output
    assert "CodecKeyMissing" in r.output and "'t1'" in r.output and "UIFLOW_CODEC_KEYS" in r.output
    assert "workflow.patched()" not in r.output and "Encoded failure" not in r.output


def test_cli_keeps_the_patching_advice_for_real_nondeterminism(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path
) -> None:
    monkeypatch.setattr(audit_cmd, "get_settings", lambda: settings)
    monkeypatch.setattr(audit_cmd, "_workflows", lambda: [ExtraTimerClaimWorkflow, ArchiverWorkflow])
    for i in range(20):  # enough for the process pool
        shutil.copy(COUNTER, tmp_path / f"claim_{i:02d}.json")
    r = runner.invoke(audit_cmd.app, ["replay", "--dir", str(tmp_path), "--processes", "2"])
    assert r.exit_code == 1, r.output
    assert "[TMPRL1100] Nondeterminism error" in r.output and "claim_19" in r.output
    assert "workflow.patched()" in r.output and "UIFLOW_CODEC_KEYS" not in r.output


async def test_a_history_whose_code_blocks_fails_instead_of_hanging(
    settings: Settings, tmp_path: Path
) -> None:
    for i in range(3):
        shutil.copy(COUNTER, tmp_path / f"claim_{i}.json")
    keys, active = settings.codec_keyring()
    setup = ReplaySetup((BlockingClaimWorkflow,), keys, active, history_timeout_s=2)
    summary = await replay_parallel(setup, history_paths(tmp_path), processes=2)
    assert summary.total == 3 and len(summary.failures) == 3
    assert all(o.cause == "failure" and o.message and "回放超时" in o.message for o in summary.failures)
