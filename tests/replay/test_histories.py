"""Every checked-in history replays against the current workflow code, and the folder covers the
paths the auditors and the deploy gate rely on."""

from __future__ import annotations

import base64
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from temporalio.worker import Replayer

from core.archive import workflow_type_of
from core.replay import from_list, history_files, load_history_file, replay_all
from core.settings import Settings
from tests.replay.conftest import HISTORIES

ROOT = Path(__file__).resolve().parents[2]

# The benefit-claim paths issue #7 asks for, by scenario name.
CLAIM_PATHS = {
    "counter_approve",
    "online_unregistered_registered_approve",
    "reject_reapply_approve",
    "request_documents_supply_approve",
    "overdue_escalation_approve",
    "registration_timeout",
    "blocked_unblocked_approve",
    # on the review kit: the callback re-read from the platform, the recheck decision, and a
    # counter registration the platform does not know (a stage for the clerk)
    "online_unregistered_registered_approve--v2",
    "not_found_recheck_approve",
    "counter_not_found_registered_approve",
    # risk verification before the decision (issue 16): cleared then approved; confirmed and referred
    "risk_cleared_approve",
    "risk_confirmed_referred",
}


def _record_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "record_histories", ROOT / "scripts" / "record_histories.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("record_histories", module)
    spec.loader.exec_module(module)
    return module


async def test_every_checked_in_history_replays(replayer: Replayer) -> None:
    files = history_files(HISTORIES)
    assert files, "tests/histories is empty: run scripts/record_histories.py"
    summary = await replay_all(replayer, from_list([load_history_file(p) for p in files]))
    assert summary.total == len(files)
    assert summary.ok, "histories the current code no longer explains:\n" + "\n".join(
        f"  {o.workflow_id}: {o.error_type}: {o.message}" for o in summary.failures
    )


def test_the_claim_paths_the_dispute_and_the_archiver_are_recorded() -> None:
    names = {p.stem for p in history_files(HISTORIES)}
    claim = {n.removeprefix("benefit_claim__") for n in names if n.startswith("benefit_claim__")}
    assert claim >= CLAIM_PATHS, f"missing claim paths: {sorted(CLAIM_PATHS - claim)}"
    types = {workflow_type_of(load_history_file(p)) for p in history_files(HISTORIES)}
    assert {
        "BenefitClaimWorkflow",
        "ArchiverWorkflow",
        "StopReasonDisputeWorkflow",
        "VerificationWorkflow",
        "RiskScanWorkflow",  # the scheduled scan opening one case and joining another
    } <= types


def test_every_recordable_scenario_has_its_file_and_every_file_its_scenario() -> None:
    """The record script's registry and the folder stay in step: a scenario whose workflow exists
    has been recorded, and no file is left that the script cannot re-record."""
    script = _record_script()
    runnable = {k for k, s in script.SCENARIOS.items() if script.available(s)}
    names = {p.stem for p in history_files(HISTORIES)}
    scenarios = {n.split("--")[0] for n in names}  # <scenario>--<suffix>: kept after a patch
    assert runnable <= scenarios, f"recorded nothing for: {sorted(runnable - scenarios)}"
    assert scenarios <= set(script.SCENARIOS), (
        f"no scenario re-records: {sorted(scenarios - set(script.SCENARIOS))}"
    )


def test_histories_are_recorded_with_the_test_key(settings: Settings) -> None:
    """The script writes with the fixed test key of tests/conftest.py, so the tests can decrypt."""
    script = _record_script()
    keys, active = settings.codec_keyring()
    assert active == script.TEST_KEY_ID
    assert base64.b64decode(script.TEST_KEY) == keys[active]
    raw = (HISTORIES / "benefit_claim__counter_approve.json").read_text()
    assert '"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="' in raw  # binary/encrypted: no plaintext payloads
