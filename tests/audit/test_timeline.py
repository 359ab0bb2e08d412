"""The case timeline built from workflow history: every staff decision with its actor, its time
(Asia/Shanghai) and its evidence; continue-as-new chains followed; no personal data unless
decrypted."""

from __future__ import annotations

from datetime import timedelta

from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from core.archive import fetch_chain
from core.replay import load_history_file, recorded_timelines
from core.settings import Settings
from core.temporal_client import make_data_converter
from core.timeline import build_timeline, describe_runs, staff_decisions
from tests.replay.conftest import HISTORIES
from workers.main import sandbox_runner
from workflows.registry import ALL_WORKFLOWS

SHANGHAI = timedelta(hours=8)


def _converter(settings: Settings) -> DataConverter:
    return make_data_converter(settings)


async def test_every_staff_decision_with_actor_time_and_evidence(settings: Settings) -> None:
    """Reject, re-application, approval: the decisions, who took them, when, and on what."""
    history = load_history_file(HISTORIES / "benefit_claim__reject_reapply_approve.json")
    events = await build_timeline([history], _converter(settings))
    decisions = staff_decisions(events)
    assert [(d.action, d.actor_kind, d.actor) for d in decisions] == [
        ("reject", "staff", "reviewer.xc"),
        ("approve", "staff", "reviewer.xc"),
    ]
    for d in decisions:
        assert d.at.utcoffset() == SHANGHAI
        assert d.event_type == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED" and d.source == "history"
    reject, approve = decisions
    assert "停保原因为个人原因" in reject.text_zh and "处置方式" in reject.text_zh
    # The evidence of each decision: the latest assessment before it, with its rule version.
    assessed = [e for e in events if e.action == "assess_claim"]
    assert len(assessed) == 2
    for decision, assessment in zip(decisions, assessed, strict=True):
        [ref] = [b for b in decision.evidence.based_on if b.activity == "assess_claim"]
        assert ref.event_id == assessment.event_id
        assert ref.versions["parameter_version"].startswith("params-")
        assert assessment.at <= decision.at
    # The re-application came from the applicant with a document; the approval rests on it.
    [reapply] = [e for e in events if e.action == "reapply" and e.event_type.endswith("ACCEPTED")]
    assert (reapply.category, reapply.actor_kind) == ("request", "applicant")
    [doc] = reapply.evidence.documents
    assert doc in approve.evidence.documents and doc not in reject.evidence.documents
    # Completed updates refer back to their acceptance.
    done = [e for e in events if e.action == "approve" and e.event_type.endswith("COMPLETED")]
    assert [e.refers_to for e in done] == [approve.event_id]
    assert events[-1].action == "completed" and "已核准" in events[-1].text_zh


async def test_timers_escalation_and_unblock_are_on_the_timeline(settings: Settings) -> None:
    overdue = await build_timeline(
        [load_history_file(HISTORIES / "benefit_claim__overdue_escalation_approve.json")],
        _converter(settings),
    )
    timers = [e for e in overdue if e.category == "timer"]
    assert len(timers) == 2  # the reminder, then the deadline
    assert any("逾期为是" in e.text_zh for e in overdue if e.category == "status")
    assert [e.actor for e in staff_decisions(overdue)] == ["reviewer.xc"]
    assert staff_decisions(overdue)[0].at > timers[-1].at  # the late approval came after escalation

    blocked = await build_timeline(
        [load_history_file(HISTORIES / "benefit_claim__blocked_unblocked_approve.json")], _converter(settings)
    )
    failures = [e for e in blocked if e.category == "failure"]
    assert failures and failures[0].action == "fetch_contributions"
    assert "service.suspended" in failures[0].text_zh
    assert [(d.action, d.actor) for d in staff_decisions(blocked)] == [
        ("unblock_case", "ops.nmg"),
        ("approve", "reviewer.xc"),
    ]
    online = await build_timeline(
        [load_history_file(HISTORIES / "benefit_claim__online_unregistered_registered_approve.json")],
        _converter(settings),
    )
    assert online[0].actor_kind == "applicant"  # filed online
    signal = next(e for e in online if e.action == "registration_confirmed")
    assert (signal.category, signal.actor) == ("external", "registration-platform")


async def test_the_workflow_narrative_is_merged_after_its_task(settings: Settings) -> None:
    history = load_history_file(HISTORIES / "benefit_claim__counter_approve.json")
    converter = _converter(settings)
    recorded, replay = await recorded_timelines([history], ALL_WORKFLOWS, converter, sandbox_runner())
    assert replay.ok and recorded
    events = await build_timeline([history], converter, recorded=recorded)
    narrative = [e for e in events if e.source == "workflow"]
    assert [e.action for e in narrative] == [r.what for r in recorded]
    approved = next(e for e in narrative if e.action == "review.approved")
    accepted = next(e for e in staff_decisions(events) if e.action == "approve")
    entitlement = next(e for e in events if e.action == "compute_entitlement")
    # Placed after the entitlement it reports on, after the decision that caused it.
    assert events.index(accepted) < events.index(entitlement) < events.index(approved)
    assert approved.actor == "reviewer.xc" and "审核通过" in approved.text_zh


async def test_redacted_timeline_has_no_personal_data(settings: Settings) -> None:
    history = load_history_file(HISTORIES / "benefit_claim__counter_approve.json")
    full = await build_timeline([history], _converter(settings))
    app = full[0].detail["input"][0]["application"]  # type: ignore[index]
    secrets = [app["id_number"], app["name"], app["phone"], app["bank_account"]]
    assert all(s in "".join(e.model_dump_json() for e in full) for s in secrets)

    redacted = await build_timeline([history], None)
    text = "".join(e.model_dump_json() for e in redacted)
    assert not any(s in text for s in secrets)
    assert all(e.detail is None for e in redacted)
    # What the history holds in clear stays: the decisions by name and time, the steps.
    assert [e.action for e in redacted if e.category == "decision" and e.event_type.endswith("ACCEPTED")] == [
        "assign",
        "approve",
    ]
    assert {e.actor for e in redacted if e.category == "decision"} == {"（未解密）"}


async def test_a_continue_as_new_chain_is_followed(
    chained_case: str, tskip_env: WorkflowEnvironment, settings: Settings
) -> None:
    histories = await fetch_chain(tskip_env.client, chained_case)
    assert len(histories) == 2
    runs = describe_runs(histories)
    assert [r.close for r in runs] == ["CONTINUED_AS_NEW", "COMPLETED"]
    events = await build_timeline(histories, _converter(settings))
    assert [(d.run, d.actor) for d in staff_decisions(events)] == [(1, "reviewer.xc"), (2, "reviewer.hhht")]
    cont = next(e for e in events if e.action == "continued_as_new")
    assert cont.run == 1 and histories[1].run_id in cont.text_zh
    second_start = [e for e in events if e.action == "started"][1]
    assert second_start.run == 2 and histories[0].run_id in second_start.text_zh
    assert [e.run for e in events] == sorted(e.run for e in events)


async def test_a_dispute_shows_each_review_level_and_the_claim_it_resumed(settings: Settings) -> None:
    converter = _converter(settings)
    dispute = await build_timeline(
        [load_history_file(HISTORIES / "stop_reason_dispute__employer_three_levels_changed.json")], converter
    )
    assert (dispute[0].actor_kind, dispute[0].category) == ("employer", "lifecycle")  # filed online
    assert [(d.action, d.actor, d.text_zh) for d in staff_decisions(dispute)] == [
        ("initial_review", "reviewer.xc", "初审（通过）"),
        ("second_review", "second.hhht", "复审（通过）"),
        ("final_review", "final.nmg", "终审（通过）"),
    ]
    signalled = next(e for e in dispute if e.action == "signal:stop_reason_changed")
    changed = next(e for e in dispute if e.action == "change_stop_reason")
    assert changed.at <= signalled.at and changed.actor == "insurance-record"

    claim = await build_timeline(
        [load_history_file(HISTORIES / "benefit_claim__rejected_stop_reason_changed_approve.json")], converter
    )
    received = next(e for e in claim if e.action == "stop_reason_changed")
    assert (received.category, received.actor) == ("external", "stop-reason-dispute")
    assert [d.action for d in staff_decisions(claim)] == ["reject", "approve"]
    assert staff_decisions(claim)[0].at < received.at < staff_decisions(claim)[1].at
