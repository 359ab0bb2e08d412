"""Re-record the checked-in workflow histories in ``tests/histories/``.

Each scenario drives the real workflow down one path on a fresh time-skipping Temporal server, with
the real activities talking to the simulators over HTTP and to a throw-away SQLite case database,
exactly as ``tests/workflow`` does. The history is written as ``<workflow type>__<scenario>.json``
in the Temporal CLI/UI JSON format, with payloads encrypted under the *test* codec key (the same
fixed key as ``tests/conftest.py``), so the replay tests can decrypt them.

Why: ``tests/replay`` replays every file against the current workflow code on every run. A change
that would break a case already in flight (an activity inserted, a timer removed, without
``workflow.patched``) fails there before it can reach production.

Usage::

    .venv/bin/python scripts/record_histories.py             # scenarios that have no file yet
    .venv/bin/python scripts/record_histories.py --list
    .venv/bin/python scripts/record_histories.py --only 'benefit_claim__*' --force
    .venv/bin/python scripts/record_histories.py --only 'benefit_claim__*' --suffix v2

Existing files are kept unless ``--force``: a history recorded before a ``workflow.patched``
change is exactly what proves the patch keeps old cases replaying. After such a change, record
the new path next to the old one with ``--suffix`` instead of overwriting it.

Adding a case type: write ``async def my_path(ctx: Ctx) -> WorkflowHandle`` that starts the
workflow and drives it to its end, decorate it with ``@scenario("<workflow type key>", "<path>",
module="workflows.<module>")``, and run the script. Scenarios whose workflow module does not exist
yet are skipped with a note, so they can be written ahead of the workflow. ``params=`` gives a
scenario an operator parameter overlay (YAML text, as the tests' fixtures write it) for its worker.

A workflow that continues-as-new is recorded run by run (the replayer takes one run at a time, as
``uiflow audit replay --case`` does with ``fetch_chain``): a scenario whose case ends in a chain of
N runs writes ``<scenario>--run1.json`` … ``<scenario>--runN.json`` (after ``--suffix``:
``<scenario>--<suffix>--run1.json`` …) instead of ``<scenario>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import fnmatch
import hashlib
import importlib
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from temporalio.api.enums.v1 import IndexedValueType  # noqa: E402
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest  # noqa: E402
from temporalio.client import WorkflowHandle  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from activities.gov import GovClients, close_all  # noqa: E402
from core.archive import fetch_chain  # noqa: E402
from core.db import Database  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.seed import seed_demo_staff, seed_regions  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.temporal_client import make_data_converter  # noqa: E402
from models import search_attributes as sa  # noqa: E402
from sim.testing import SimHandle, running_sim  # noqa: E402
from workers.main import build_worker  # noqa: E402

OUT = ROOT / "tests" / "histories"
CALENDAR_OVERLAY = ROOT / "tests" / "fixtures" / "calendar"
# The fixed test codec key of tests/conftest.py (key id "t1", 32 bytes of "k"): test-only, public.
TEST_KEY_ID = "t1"
TEST_KEY = base64.b64encode(b"k" * 32).decode()
TEST_BIN = Path(sys.executable).parent


def test_settings(data_dir: Path) -> Settings:
    return Settings(
        mode="test",
        data_dir=data_dir,
        codec_keys=f"{TEST_KEY_ID}:{TEST_KEY}",
        codec_active_key=TEST_KEY_ID,
        jwt_secret="test-secret-" + "x" * 32,
        applicant_key_secret="test-applicant-secret-" + "y" * 32,
        temporal_namespace="default",
        task_queue="uiflow-record",
        calendar_dir=CALENDAR_OVERLAY,
        external_timeout_seconds=5.0,
    )


@dataclass
class Ctx:
    """What a scenario gets: its own time-skipping server, a worker on ``task_queue`` with the
    real activities, the simulators, and the case database."""

    env: WorkflowEnvironment
    task_queue: str
    settings: Settings
    db: Database
    sim: SimHandle


Driver = Callable[[Ctx], Awaitable[WorkflowHandle[Any, Any]]]
Overlay = Callable[[], str]  # the YAML text of an operator parameter overlay (imported lazily)


@dataclass(frozen=True)
class Scenario:
    workflow_type: str  # file-name key: the case type (benefit_claim) or the workflow's short name
    name: str
    module: str  # the workflow module that must exist for this scenario to run
    drive: Driver
    doc: str
    params: Overlay | None = None

    @property
    def key(self) -> str:
        return f"{self.workflow_type}__{self.name}"


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    workflow_type: str, name: str, *, module: str, params: Overlay | None = None
) -> Callable[[Driver], Driver]:
    def _register(fn: Driver) -> Driver:
        s = Scenario(workflow_type, name, module, fn, (fn.__doc__ or "").strip(), params)
        if s.key in SCENARIOS:
            raise ValueError(f"duplicate scenario {s.key}")
        SCENARIOS[s.key] = s
        return fn

    return _register


# --- helpers ------------------------------------------------------------------------------------


async def wait_for(
    h: WorkflowHandle[Any, Any], query: Any, pred: Callable[[Any], bool], limit: float = 30.0
) -> Any:
    end = time.monotonic() + limit
    while True:
        st = await h.query(query)
        if pred(st):
            return st
        if time.monotonic() > end:
            raise RuntimeError(f"{h.id}: condition not reached; timeline {[e.what for e in st.timeline]}")
        await asyncio.sleep(0.05)


async def sim_admin(ctx: Ctx, method: str, path: str, **kw: Any) -> Any:
    async with httpx.AsyncClient(base_url=ctx.sim.base_url) as c:
        r = await c.request(method, path, **kw)
        r.raise_for_status()
        return r.json()


async def not_found_in(ctx: Ctx, system: str) -> None:
    """The simulated ``system`` answers "no record of this person" (404 ``person.not_found``) to
    every call until the faults are cleared."""
    await sim_admin(
        ctx,
        "PUT",
        f"/admin/faults/{system}",
        json={"refuse_rate": 1.0, "refuse_status": 404, "refuse_code": "person.not_found"},
    )


async def stored_document(ctx: Ctx, kind: str, content: bytes) -> Any:
    """A document as the upload endpoint would store it (row only; the bytes are not needed)."""
    from models.claim import DocumentRef
    from models.tables import Document

    digest = hashlib.sha256(content).hexdigest()
    doc_id = str(uuid.uuid4())
    async with ctx.db.session() as s:
        s.add(
            Document(
                id=doc_id,
                kind=kind,
                filename=f"{kind}.pdf",
                content_type="application/pdf",
                sha256=digest,
                size=len(content),
                uploaded_by="applicant",
                uploaded_at=datetime.now(UTC),
                storage_key=f"record/{doc_id}",
            )
        )
        await s.commit()
    return DocumentRef(id=doc_id, kind=kind, sha256=digest, filename=f"{kind}.pdf")


# --- benefit claim ------------------------------------------------------------------------------

CLAIM = "workflows.benefit_claim"


async def _claim(
    ctx: Ctx, *, channel: str = "counter", **person: Any
) -> tuple[WorkflowHandle[Any, Any], dict[str, Any]]:
    """Start a claim for a fresh simulated person; return its handle and the person."""
    from models.enums import Channel
    from tests.factories import claim_input, sim_person
    from workflows.base import initial_search_attributes
    from workflows.benefit_claim import BenefitClaimWorkflow

    p = await sim_person(ctx.sim.base_url, ctx.sim.token, **person)
    inp = claim_input(
        ctx.settings,
        p,
        channel=Channel(channel),
        received_at=await ctx.env.get_current_time(),
    )
    h = await ctx.env.client.start_workflow(
        BenefitClaimWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ctx.task_queue,
        search_attributes=initial_search_attributes("benefit_claim", inp.application.region_code, "checking"),
        execution_timeout=timedelta(days=400),
    )
    return h, p


async def _claim_status(h: WorkflowHandle[Any, Any], status: str) -> Any:
    from workflows.benefit_claim import BenefitClaimWorkflow

    return await wait_for(h, BenefitClaimWorkflow.state_query, lambda s: s.status.value == status)


async def _approve(h: WorkflowHandle[Any, Any]) -> None:
    from models.claim import ApproveCommand
    from tests.factories import REVIEWER
    from workflows.benefit_claim import BenefitClaimWorkflow

    await h.execute_update(
        BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER, note="材料齐全，核实无误")
    )


@scenario("benefit_claim", "counter_approve", module=CLAIM)
async def claim_counter_approve(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Counter claim, registered, eligible; a supervisor assigns it and the reviewer approves."""
    from models.claim import AssignCommand
    from models.enums import Role
    from models.staff import StaffActor
    from workflows.benefit_claim import BenefitClaimWorkflow

    h, _ = await _claim(
        ctx, scenario="eligible", registered=True, cumulative_months=70, last_consecutive_months=40
    )
    await _claim_status(h, "under_review")
    supervisor = StaffActor(
        login="supervisor.hhht", name="周主管", roles=[Role.SUPERVISOR], region_code="150100"
    )
    await h.execute_update(
        BenefitClaimWorkflow.assign, AssignCommand(actor=supervisor, reviewer_login="reviewer.xc")
    )
    await _approve(h)
    return h


@scenario("benefit_claim", "category_by_clerk_approve", module=CLAIM)
async def claim_category_by_clerk(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Issue 14: neither the application nor the contribution record holds the retirement
    category, so the claim waits in its checks (never guessing from sex) until the clerk states
    it from the personnel file; the person was registered, so the review clock ran from receipt."""
    from models.claim import RetirementCategoryCommand
    from models.rules import RetirementCategory
    from tests.factories import CLERK
    from workflows.benefit_claim import BenefitClaimWorkflow

    h, _ = await _claim(ctx, scenario="eligible", registered=True, sex="female", retirement_category="none")
    await wait_for(h, BenefitClaimWorkflow.state_query, lambda s: s.stage == "awaiting_category")
    await h.execute_update(
        BenefitClaimWorkflow.set_retirement_category,
        RetirementCategoryCommand(
            actor=CLERK, category=RetirementCategory.FEMALE_55, note="人事档案：管理岗位"
        ),
    )
    await _claim_status(h, "under_review")
    await _approve(h)
    return h


@scenario("benefit_claim", "online_unregistered_registered_approve", module=CLAIM)
async def claim_online_unregistered(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Online claim without registration; two daily re-checks find nothing, the platform's
    callback confirms it on day 3, then approval."""
    from models.case import local_date
    from models.claim import RegistrationEvent
    from workflows.benefit_claim import BenefitClaimWorkflow

    h, person = await _claim(ctx, channel="online", scenario="unregistered", registered=False)
    await _claim_status(h, "awaiting_registration")
    await ctx.env.sleep(timedelta(days=2, hours=3))
    now = await ctx.env.get_current_time()
    # The person registers on the platform, which then calls back (since the patch
    # ``claim-registration-reread`` the workflow re-reads the registration from the platform).
    p = ctx.sim.state.pop.persons[person["id_number"]]
    p.registered, p.registered_on, p.registration_no = True, local_date(now), "DJ-REC-3"
    await h.signal(
        BenefitClaimWorkflow.registration_confirmed,
        RegistrationEvent(registration_no="DJ-REC-3", registered_on=local_date(now)),
    )
    await _claim_status(h, "under_review")
    await _approve(h)
    return h


@scenario("benefit_claim", "reject_reapply_approve", module=CLAIM)
async def claim_reject_reapply(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Voluntary separation: rejected with a remedy; the record is corrected and the applicant
    re-applies two weeks later with a new document; the second round is approved."""
    from models.claim import ReapplyEvent, RejectCommand, RejectReason
    from tests.factories import REVIEWER
    from workflows.benefit_claim import BenefitClaimWorkflow

    h, person = await _claim(ctx, scenario="voluntary_resignation", registered=True)
    await _claim_status(h, "under_review")
    await h.execute_update(
        BenefitClaimWorkflow.reject,
        RejectCommand(
            actor=REVIEWER,
            reason_code=RejectReason.VOLUNTARY_SEPARATION,
            remedy="如停保原因登记有误，可由原单位申请变更停保原因，或本人到窗口申请。",
        ),
    )
    await _claim_status(h, "rejected")
    await ctx.env.sleep(timedelta(days=14))
    ctx.sim.state.pop.persons[person["id_number"]].stop_reason_code = "contract_expired"
    agreement = await stored_document(ctx, "separation_agreement", b"record: separation agreement")
    await h.execute_update(
        BenefitClaimWorkflow.reapply,
        ReapplyEvent(by="applicant", documents=[agreement], note="补充解除劳动合同协议"),
    )
    await _claim_status(h, "under_review")
    await _approve(h)
    return h


@scenario("benefit_claim", "request_documents_supply_approve", module=CLAIM)
async def claim_request_documents(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """The reviewer asks for a termination certificate; the applicant supplies it nine days
    later (the clock restarts); approval."""
    from models.claim import ReapplyEvent, RequestDocumentsCommand
    from tests.factories import REVIEWER
    from workflows.benefit_claim import BenefitClaimWorkflow

    h, _ = await _claim(ctx, scenario="eligible", registered=True)
    await _claim_status(h, "under_review")
    await h.execute_update(
        BenefitClaimWorkflow.request_documents,
        RequestDocumentsCommand(actor=REVIEWER, documents=["解除劳动合同证明"]),
    )
    await ctx.env.sleep(timedelta(days=9))
    certificate = await stored_document(ctx, "termination_certificate", b"record: termination certificate")
    await h.execute_update(
        BenefitClaimWorkflow.supply_documents, ReapplyEvent(by="applicant", documents=[certificate])
    )
    await _claim_status(h, "under_review")
    await _approve(h)
    return h


@scenario("benefit_claim", "overdue_escalation_approve", module=CLAIM)
async def claim_overdue(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Nobody decides: the reminder fires, then the deadline passes and the case is escalated to
    the supervisor; a late approval is still taken."""
    from workflows.benefit_claim import BenefitClaimWorkflow

    h, _ = await _claim(ctx, scenario="eligible", registered=True)
    await _claim_status(h, "under_review")
    await ctx.env.sleep(timedelta(days=25))
    await wait_for(h, BenefitClaimWorkflow.state_query, lambda s: s.escalated)
    await _approve(h)
    return h


@scenario("benefit_claim", "not_found_recheck_approve", module=CLAIM)
async def claim_not_found_recheck(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """The contribution system briefly has no record of the person: the checks say ineligible; once
    it is back, the reviewer asks for the checks to be run again (``recheck``), then approves."""
    from models.claim import RecheckCommand
    from tests.factories import REVIEWER
    from workflows.benefit_claim import BenefitClaimWorkflow

    await not_found_in(ctx, "contributions")
    try:
        h, _ = await _claim(ctx, scenario="eligible", registered=True)
        await _claim_status(h, "under_review")
    finally:
        await sim_admin(ctx, "DELETE", "/admin/faults")
    await h.execute_update(
        BenefitClaimWorkflow.recheck, RecheckCommand(actor=REVIEWER, note="缴费系统已恢复", round=1)
    )
    await _approve(h)
    return h


@scenario("benefit_claim", "counter_not_found_registered_approve", module=CLAIM)
async def claim_counter_not_found(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """At the counter the registration platform does not know the person: a stage for the clerk,
    not a block; the clerk registers the person and the daily re-check finds it; approval."""
    from models.case import local_date
    from workflows.benefit_claim import BenefitClaimWorkflow

    await not_found_in(ctx, "registration")
    try:
        h, person = await _claim(ctx, scenario="eligible", registered=False)
        await wait_for(h, BenefitClaimWorkflow.state_query, lambda s: s.stage == "registration_not_found")
    finally:
        await sim_admin(ctx, "DELETE", "/admin/faults")
    p = ctx.sim.state.pop.persons[person["id_number"]]
    p.registered, p.registered_on, p.registration_no = (
        True,
        local_date(await ctx.env.get_current_time()),
        "DJ-CLERK",
    )
    await ctx.env.sleep(timedelta(hours=25))
    await _claim_status(h, "under_review")
    await _approve(h)
    return h


@scenario("benefit_claim", "registration_timeout", module=CLAIM)
async def claim_registration_timeout(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Online claim; the person never registers: 30 daily re-checks, then the case closes."""
    h, _ = await _claim(ctx, channel="online", scenario="unregistered", registered=False)
    return h


@scenario("benefit_claim", "blocked_unblocked_approve", module=CLAIM)
async def claim_blocked(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """The contribution system refuses for good: the case blocks and tells operations; the
    engineer unblocks it once the system is back; approval."""
    from models.case import UnblockCommand
    from tests.factories import OPS
    from workflows.benefit_claim import BenefitClaimWorkflow

    await sim_admin(
        ctx,
        "PUT",
        "/admin/faults/contributions",
        json={"refuse_rate": 1.0, "refuse_code": "service.suspended"},
    )
    try:
        h, _ = await _claim(ctx, scenario="eligible", registered=True)
        await wait_for(h, BenefitClaimWorkflow.state_query, lambda s: s.blocked is not None)
    finally:
        await sim_admin(ctx, "DELETE", "/admin/faults")
    await h.execute_update(
        BenefitClaimWorkflow.unblock_case, UnblockCommand(actor=OPS, note="缴费系统已恢复")
    )
    await _claim_status(h, "under_review")
    await _approve(h)
    return h


# --- stop-reason dispute -------------------------------------------------------------------------
# The drivers reuse the dispute tests' own helpers, so a recorded path is a tested path.

DISPUTE = "workflows.stop_reason_dispute"


def _case_env(ctx: Ctx) -> Any:
    from tests.factories import CaseEnv

    return CaseEnv(env=ctx.env, task_queue=ctx.task_queue, settings=ctx.settings, db=ctx.db)


async def _changed_by_employer(ctx: Ctx) -> tuple[WorkflowHandle[Any, Any], WorkflowHandle[Any, Any]]:
    """A claim rejected for voluntary resignation; the employer's dispute passes three levels, the
    record changes, and the claim is re-reviewed and approved without a new application."""
    from models.dispute import DisputeStatus
    from models.enums import Channel
    from tests.factories import claim_paid_after_change, rejected_claim, sim_person
    from tests.workflow.test_stop_reason_dispute import (
        approve_all,
        dispute_input,
        start_dispute,
        wait_dispute,
    )

    ce = _case_env(ctx)
    person = await sim_person(
        ctx.sim.base_url,
        ctx.sim.token,
        scenario="voluntary_resignation",
        registered=True,
        record_locked=False,
    )
    claim = await rejected_claim(ce, person)
    h = await start_dispute(ce, await dispute_input(ce, person, channel=Channel.EMPLOYER_WEBSITE))
    await approve_all(h)
    await wait_dispute(h, status=DisputeStatus.CHANGED)
    await claim_paid_after_change(ce, claim, h.id)
    return h, claim


@scenario("stop_reason_dispute", "employer_three_levels_changed", module=DISPUTE)
async def dispute_employer_changed(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Employer's online dispute approved at the initial, second and final levels; the record
    changes and the rejected claim is resumed."""
    dispute, _ = await _changed_by_employer(ctx)
    return dispute


@scenario("benefit_claim", "rejected_stop_reason_changed_approve", module=DISPUTE)
async def claim_resumed_by_dispute(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """The claim side of the dispute path: rejected, the stop-reason change arrives as a signal,
    a second round without a new application, approval."""
    _, claim = await _changed_by_employer(ctx)
    return claim


@scenario("stop_reason_dispute", "counter_rejected_second_review", module=DISPUTE)
async def dispute_counter_rejected(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Counter dispute; the initial review approves, the second review rejects with a reason."""
    from models.dispute import ReviewAction
    from models.enums import Channel
    from tests.factories import REVIEWER, SECOND, sim_person
    from tests.workflow.test_stop_reason_dispute import cmd, dispute_input, start_dispute, wait_dispute
    from workflows.stop_reason_dispute import StopReasonDisputeWorkflow

    ce = _case_env(ctx)
    person = await sim_person(
        ctx.sim.base_url, ctx.sim.token, scenario="voluntary_resignation", registered=True
    )
    h = await start_dispute(ce, await dispute_input(ce, person, channel=Channel.COUNTER))
    await wait_dispute(h, stage="initial_review")
    await h.execute_update(StopReasonDisputeWorkflow.initial_review, cmd(REVIEWER))
    await h.execute_update(
        StopReasonDisputeWorkflow.second_review,
        cmd(SECOND, ReviewAction.REJECT, reason="仲裁裁决书认定系劳动者本人提出解除，原停保原因无误"),
    )
    return h


# --- consultations and complaints ------------------------------------------------------------------
# The drivers are the request tests' own paths, so a recorded path is a tested path.

REQUEST = "workflows.service_request"


def _request_path(path: str, doc: str) -> Driver:
    async def drive(ctx: Ctx) -> WorkflowHandle[Any, Any]:
        from tests.workflow import test_service_request as paths

        h: WorkflowHandle[Any, Any] = await getattr(paths, path)(_case_env(ctx), ctx.sim)
        return h

    drive.__doc__ = doc
    return drive


for _name, _path, _doc in (
    ("answered_on_the_spot", "on_the_spot", "A consultation at the counter answered on the spot and closed."),
    (
        "hotline_within_limit_reported",
        "hotline_within_limit",
        "A 12333 work order assigned, answered within its limit, replied and reported closed.",
    ),
    (
        "overdue_complaint_escalated",
        "overdue_escalated",
        "A complaint past its first-contact limit: reminder, escalation to the supervisor.",
    ),
    ("not_satisfied_reopened", "not_satisfied_reopened", "Not satisfied: reopened once, answered again."),
    ("unresolved_window_supervisor", "unresolved_window", "A 办不成事 request at the supervisor at once."),
):
    scenario("service_request", _name, module=REQUEST)(_request_path(_path, _doc))


# --- benefit period -----------------------------------------------------------------------------
# As the period tests: their input builders, and their operator overlay (the medical premium
# standard, and a minimum-wage change from 2027-07), so premiums are paid as in production. The
# test clock starts at today's date: months of 2027 wait for their pay days, past months are paid
# at once. Each scenario is kept to a few months so that its history stays small.

PERIOD = "workflows.benefit_period"
TZ = ZoneInfo("Asia/Shanghai")


def _period_params() -> str:
    from tests.workflow.conftest import OVERRIDE

    return OVERRIDE


async def _period(
    ctx: Ctx, *, first: tuple[int, int], months: int, timings: Any = None, **person: Any
) -> WorkflowHandle[Any, Any]:
    """Start a period for a fresh simulated person (eligible and registered unless told)."""
    from models.rules import YearMonth
    from tests.factories import sim_person
    from tests.workflow.conftest import period_input, start_period

    person.setdefault("scenario", "eligible")
    person.setdefault("registered", True)
    p = await sim_person(ctx.sim.base_url, ctx.sim.token, **person)
    inp = period_input(ctx.settings, p, first=YearMonth(*first), months=months, timings=timings)
    return await start_period(_case_env(ctx), inp)


async def _sleep_until(ctx: Ctx, when: datetime) -> None:
    now = await ctx.env.get_current_time()
    if when <= now:
        raise RuntimeError(f"test clock already past {when}")
    await ctx.env.sleep(when - now)


async def _months_paid(ctx: Ctx, h: WorkflowHandle[Any, Any], n: int) -> None:
    """Wait until the region's runs have paid ``n`` months of the period (the ledger, not the
    period: it is not on the pay day's path)."""
    from sqlmodel import select

    from models.tables import PaymentOrder

    for _ in range(400):
        async with ctx.db.session() as s:
            paid = (
                await s.exec(
                    select(PaymentOrder).where(PaymentOrder.case_id == h.id, PaymentOrder.status == "paid")
                )
            ).all()
        if len(paid) >= n:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{h.id}: {n} months not paid")


@scenario("benefit_period", "three_months_expired", module=PERIOD, params=_period_params)
async def period_expired(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Three months from 2027-01: the period writes its schedule rows, the region's pay-day runs pay
    them (February's 10th falls in the test calendar's 春节 break: the 15th), premiums paid on the
    person's behalf; the period reads the ledger after the last pay day and closes with the totals."""
    return await _period(ctx, first=(2027, 1), months=3)


@scenario("benefit_period", "reemployed_stop_unused_months", module=PERIOD, params=_period_params)
async def period_reemployed(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Six months from 2027-01; two paid, then the employment registry reports a new job on
    2027-02-18 (a Signal): paid through February, stopped from March, four months kept unused."""
    from models.benefit import StopEvent, StopReason
    from workflows.benefit_period import BenefitPeriodWorkflow

    h = await _period(ctx, first=(2027, 1), months=6)
    await _sleep_until(ctx, datetime(2027, 2, 20, 12, 0, tzinfo=TZ))
    await _months_paid(ctx, h, 2)
    await h.signal(
        BenefitPeriodWorkflow.stop_event,
        StopEvent(
            reason=StopReason.REEMPLOYED, on=date(2027, 2, 18), source="employment-registry", reference="JY-1"
        ),
    )
    return h


@scenario("benefit_period", "flexible_worker_premium_failed", module=PERIOD, params=_period_params)
async def period_flexible_premium(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """A flexible worker already insured on their own: three overdue months (2026-06 to 08) paid at
    once, each month's premium refused and recorded as failed, the person told once with the
    refund path."""
    return await _period(
        ctx,
        first=(2026, 6),
        months=3,
        scenario="flexible_medical",
        medical_status="flexible_worker",
    )


@scenario("benefit_period", "suspended_resumed", module=PERIOD, params=_period_params)
async def period_suspended(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Four months from 2027-01; after two, the risk check suspends payment (a Signal) and lifts
    it in May: nothing is paid while held, the two remaining months move on to May and June."""
    from models.benefit import ResumeEvent, SuspendEvent
    from workflows.benefit_period import BenefitPeriodWorkflow

    h = await _period(ctx, first=(2027, 1), months=4)
    await _sleep_until(ctx, datetime(2027, 2, 20, 12, 0, tzinfo=TZ))
    await _months_paid(ctx, h, 2)
    await h.signal(
        BenefitPeriodWorkflow.suspend,
        SuspendEvent(ref="risk-7", reason_zh="领金资格风险核查", source="risk-check", on=date(2027, 2, 20)),
    )
    await wait_for(h, BenefitPeriodWorkflow.state_query, lambda s: s.status.value == "suspended")
    await _sleep_until(ctx, datetime(2027, 5, 5, 12, 0, tzinfo=TZ))
    await h.signal(BenefitPeriodWorkflow.resume, ResumeEvent(ref="risk-7", on=date(2027, 5, 5)))
    return h


@scenario("benefit_period", "stop_by_staff_reemployed", module=PERIOD, params=_period_params)
async def period_stop_by_staff(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Six months from 2027-01; two paid, then a reviewer records re-employment on 2027-02-18 with
    an evidence document (the staff-kit path: evidence linked, audit, the person told): paid
    through February, stopped from March, four months kept unused."""
    from models.benefit import StaffStopCommand, StopReason
    from tests.factories import REVIEWER
    from workflows.benefit_period import BenefitPeriodWorkflow

    h = await _period(ctx, first=(2027, 1), months=6)
    await _sleep_until(ctx, datetime(2027, 2, 20, 12, 0, tzinfo=TZ))
    await _months_paid(ctx, h, 2)
    doc = await stored_document(ctx, "reemployment_proof", b"%PDF-1.4 reemployment proof")
    await h.execute_update(
        BenefitPeriodWorkflow.stop_by_staff,
        StaffStopCommand(
            actor=REVIEWER,
            reason=StopReason.REEMPLOYED,
            on=date(2027, 2, 18),
            note="就业登记系统核实已重新就业",
            evidence=[doc],
        ),
    )
    return h


@scenario("benefit_period", "transfer_then_expired", module=PERIOD, params=_period_params)
async def period_transfer(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Four months from 2027-01; after two, a reviewer transfers the period from 新城区 to 包头
    东河区 (the one period moves: its open rows and payee go to the new district's pay day); the
    new district's runs pay the last two months and the period closes."""
    from models.benefit import TransferCommand
    from tests.factories import REVIEWER
    from workflows.benefit_period import BenefitPeriodWorkflow

    h = await _period(ctx, first=(2027, 1), months=4)
    await _sleep_until(ctx, datetime(2027, 2, 20, 12, 0, tzinfo=TZ))
    await _months_paid(ctx, h, 2)
    await h.execute_update(
        BenefitPeriodWorkflow.transfer_region,
        TransferCommand(actor=REVIEWER, to_region="150202", note="本人户籍迁至包头市东河区"),
    )
    return h


@scenario("benefit_period", "imported_legacy_recipient", module=PERIOD, params=_period_params)
async def period_imported(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """A legacy recipient brought in by ``uiflow import periods`` (issue 14): 12 months from ten
    months ago, ten paid by the legacy system; the period starts at this month with that history,
    pays this month and the next through the region's runs, finds no near-retirement extension
    (the file says not receiving on 2024-12-31) and closes."""
    from core.parameters import parameters_in_force
    from core.period_import import COLUMNS, plan_import, start_periods
    from models.case import BUSINESS_TZ
    from tests.factories import sim_person

    p = await sim_person(ctx.sim.base_url, ctx.sim.token, scenario="eligible", registered=True)
    today = (await ctx.env.get_current_time()).astimezone(BUSINESS_TZ).date()
    n = today.year * 12 + today.month - 1 - 10
    row = {
        "id_number": p["id_number"],
        "name": p["name"],
        "phone": p["phone"],
        "bank_account": p["account_no"],
        "bank_name": p["bank_name"],
        "region_code": "150102",
        "retirement_category": p["retirement_category"],
        "benefit_start": date(n // 12, n % 12 + 1, 12).isoformat(),
        "ordinary_months": "12",
        "months_paid": "10",
        "paid_total": "21565.00",
        "continuation": "none",
        "continuation_through": "",
        "receiving_on_2024_12_31": "no",
    }
    text = ",".join(COLUMNS) + "\n" + ",".join(row[c] for c in COLUMNS) + "\n"
    settings = ctx.settings.model_copy(update={"task_queue": ctx.task_queue})
    plan = plan_import(
        text.encode(), settings=settings, params=parameters_in_force(settings.params_dir), today=today
    )
    if plan.errors:
        raise RuntimeError(f"import plan refused: {plan.errors}")
    res = await start_periods(ctx.env.client, ctx.db, settings, plan, by="ops.nmg")
    # The handle start_periods made is not ours: skip the clock past next month's pay day here.
    await ctx.env.sleep(timedelta(days=45))
    return ctx.env.client.get_workflow_handle(res.case_ids[0])


# --- risk verification and verification cases (核查) -------------------------------------------------
# The drivers reuse the tests' own helpers, so a recorded path is a tested path.

VERIFICATION = "workflows.verification"


async def _flagged(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    from tests.workflow.test_risk_verification import flagged_claim

    return await flagged_claim(_case_env(ctx), ctx.sim)


@scenario("benefit_claim", "risk_cleared_approve", module=CLAIM)
async def claim_risk_cleared(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Two consecutive months of contributions (a risk hit): the inspector clears it with evidence,
    the claim returns to review with the finding on it, and the reviewer approves."""
    from models.claim import RiskFindingCommand
    from tests.factories import INSPECTOR, store_documents
    from workflows.benefit_claim import BenefitClaimWorkflow

    h = await _flagged(ctx)
    docs = await store_documents(ctx.db, "labour_contract")
    await h.execute_update(
        BenefitClaimWorkflow.record_risk_finding,
        RiskFindingCommand(
            actor=INSPECTOR, outcome="cleared", finding="中断系单位经办人员变更所致", evidence=docs
        ),
    )
    await _approve(h)
    return h


@scenario("benefit_claim", "risk_confirmed_referred", module=VERIFICATION)
async def claim_risk_referred(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """A risk hit confirmed and referred: the claim is refused (fraud verified) and opens a
    verification case; nobody re-applies and the case closes after the window."""
    from models.claim import RiskFindingCommand
    from tests.factories import INSPECTOR, store_documents
    from workflows.benefit_claim import BenefitClaimWorkflow

    h = await _flagged(ctx)
    docs = await store_documents(ctx.db, "interview_record")
    await h.execute_update(
        BenefitClaimWorkflow.record_risk_finding,
        RiskFindingCommand(
            actor=INSPECTOR,
            outcome="confirmed",
            action="refer",
            finding="疑似中介代办挂靠参保",
            evidence=docs,
        ),
    )
    return h


@scenario("verification", "ring_recovery_fine_police", module=VERIFICATION, params=_period_params)
async def verification_ring(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Two people of a ring paid January to March 2027; the inspector proposes recovery in three
    installments, a 3x fine and a police referral; the supervisor approves; the periods stop; the
    installments are repaid and the case closes."""
    from tests.workflow.test_verification import approve, repay_in_full, ring_case, sanction_proposal, wait_v
    from workflows.verification import VerificationWorkflow

    ce = _case_env(ctx)
    h, _, _ = await ring_case(ce, ctx.sim, n=2)
    await h.execute_update(VerificationWorkflow.propose, await sanction_proposal(ce))
    await wait_v(h, lambda s: s.review.current == "approve")
    await h.execute_update(VerificationWorkflow.approve_outcome, approve())
    await wait_v(h, lambda s: s.status.value == "recovering")
    await repay_in_full(ce, h)
    return h


@scenario("verification", "cleared_after_send_back", module=VERIFICATION)
async def verification_cleared(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """A layoff hit cleared by the inspector, sent back once by the supervisor, cleared again with
    the filing receipt and approved; the people are told."""
    from tests.workflow.test_verification import cleared_after_send_back

    return await cleared_after_send_back(_case_env(ctx), ctx.sim)


@scenario("risk_scan", "seeded_population_opened_and_joined", module="workflows.risk_scan")
async def risk_scan_opened_joined(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """The daily scan over the simulator's seeded population: one group's case is still open from
    the day before, so its hits join it (Signal ``add_hits``); every other group opens a case."""
    from activities.risk_scan import RiskScanActivities
    from models.enums import CaseType
    from models.verification import RiskScanInput, ScanRequest, VerificationInput
    from workflows.base import initial_search_attributes
    from workflows.risk_scan import RiskScanWorkflow
    from workflows.verification import VerificationWorkflow

    report = await RiskScanActivities(ctx.settings, ctx.db, GovClients.from_settings(ctx.settings)).run_scan(
        ScanRequest()
    )
    if len(report.cases) < 2:
        raise RuntimeError(f"the seeded population gave {len(report.cases)} scan case(s); need two")
    open_ = report.cases[0]  # yesterday's case, opened as the scan opens it
    await ctx.env.client.start_workflow(
        VerificationWorkflow.run,
        VerificationInput(
            case_id=open_.case_id,
            region_code=open_.region_code,
            opened_by="risk-scan",
            opened_at=await ctx.env.get_current_time(),
            reason_zh=open_.reason_zh,
            hits=open_.batch,
        ),
        id=open_.case_id,
        task_queue=ctx.task_queue,
        search_attributes=initial_search_attributes(CaseType.RISK_CHECK, open_.region_code, "open"),
    )
    return await ctx.env.client.start_workflow(
        RiskScanWorkflow.run,
        RiskScanInput(),
        id=f"uiflow-risk-scan-record-{uuid.uuid4().hex[:6]}",
        task_queue=ctx.task_queue,
        execution_timeout=timedelta(hours=1),
    )


# --- pay day --------------------------------------------------------------------------------------


@scenario("payday", "region_run_three_periods", module="workflows.payday", params=_period_params)
async def payday_region_run(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Three one-month periods of one district, due 2027-01 (the 10th is a Sunday: the run is on the
    11th). Their schedule writes signal-with-start the region's run, which waits for 09:00, takes its
    cut-off, pays the three in one chunk (one bank batch), records the premiums, reconciles with the
    bank item by item, sends the notices in one batch and closes."""
    from models.payday import payday_id

    for _ in range(3):
        await _period(ctx, first=(2027, 1), months=1)
    run = ctx.env.client.get_workflow_handle(payday_id("150102", date(2027, 1, 11)))
    # The time-skipping client skips time only while awaiting a workflow it started itself, not
    # one the periods started: pass the release (09:00) explicitly.
    await _sleep_until(ctx, datetime(2027, 1, 11, 12, 0, tzinfo=TZ))
    return run


async def _recheck_stops_pensioner(ctx: Ctx) -> str:
    """One one-month period due 2027-01 of a person whose pension record knows of a pension from
    2026-12-15 (nobody pushed it). The region's run (2027-01-11, 09:00) first runs its re-check, a
    child that asks the four systems in bulk: the pension is found, the month is stopped before the
    cut-off, the period is signalled; the run then finds nothing to pay and closes."""
    from models.payday import payday_id
    from models.rules import YearMonth
    from tests.factories import sim_person
    from tests.workflow.conftest import period_input, start_period

    p = await sim_person(ctx.sim.base_url, ctx.sim.token, scenario="eligible", registered=True)
    await sim_admin(
        ctx,
        "POST",
        "/admin/person-events/person.pension_started",
        json={"id_number": p["id_number"], "on": "2026-12-15", "deliver": False},
    )
    inp = period_input(ctx.settings, p, first=YearMonth(2027, 1), months=1)
    await start_period(_case_env(ctx), inp)
    await _sleep_until(ctx, datetime(2027, 1, 11, 12, 0, tzinfo=TZ))
    return payday_id("150102", date(2027, 1, 11))


@scenario("payday", "region_run_recheck_stops_pensioner", module="workflows.payday", params=_period_params)
async def payday_recheck_stops(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """The pay-day run with its re-check first (patch ``period-recheck``); see the re-check's own
    scenario."""
    return ctx.env.client.get_workflow_handle(await _recheck_stops_pensioner(ctx))


@scenario(
    "period_recheck", "pension_found_before_cutoff", module="workflows.period_recheck", params=_period_params
)
async def recheck_pension_found(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """The re-check child of the 2027-01-11 run: one chunk (the pension found and applied), then an
    empty one."""
    return ctx.env.client.get_workflow_handle("recheck-" + await _recheck_stops_pensioner(ctx))


# --- archiver -----------------------------------------------------------------------------------


@scenario("archiver", "named_cases", module="workflows.archiver")
async def archiver_named_cases(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """The archiver exports two closed claims named in its input (the visibility listing is the
    same workflow path with another activity input; the time-skipping server has no visibility)."""
    from workflows.archiver import ArchiverInput, ArchiverWorkflow

    h1, _ = await _claim(ctx, scenario="eligible", registered=True)
    await _claim_status(h1, "under_review")
    await _approve(h1)
    await h1.result()
    h2, _ = await _claim(ctx, channel="online", scenario="unregistered", registered=False)
    await h2.result()
    return await ctx.env.client.start_workflow(
        ArchiverWorkflow.run,
        ArchiverInput(case_ids=[h1.id, h2.id]),
        id=f"uiflow-archiver-record-{uuid.uuid4().hex[:6]}",
        task_queue=ctx.task_queue,
        execution_timeout=timedelta(hours=1),
    )


# --- skill-upgrade subsidy ----------------------------------------------------------------------

SUBSIDY = "workflows.skill_subsidy"


def _subsidy_params() -> str:
    from tests.workflow.test_skill_subsidy import OVERLAY

    return OVERLAY


async def _subsidy(ctx: Ctx, *, fit: bool = True, recipient: bool = False) -> WorkflowHandle[Any, Any]:
    """A subsidy for a fresh simulated person with a certificate on the national site."""
    from core.applicant import applicant_key
    from models.rules import ApplicantKind
    from tests.factories import (
        running_benefit_period,
        sim_certificate,
        sim_person,
        start_subsidy,
        subsidy_application,
    )

    p = await sim_person(ctx.sim.base_url, ctx.sim.token, cumulative_months=60)
    cert = await sim_certificate(ctx.sim, p)
    kind = ApplicantKind.INSURED_EMPLOYEE
    if recipient:
        kind = ApplicantKind.BENEFIT_RECIPIENT
        await running_benefit_period(ctx.db, applicant_key(ctx.settings, p["id_number"]))
    doc = await stored_document(ctx, "job_fit_statement", f"fit:{cert['cert_no']}".encode()) if fit else None
    return await start_subsidy(_case_env(ctx), subsidy_application(p, cert, kind=kind, fit=doc))


async def _subsidy_decide(h: WorkflowHandle[Any, Any], rounds: int = 1, **cmd: Any) -> None:
    from models.skill_subsidy import SubsidyDecisionCommand
    from tests.factories import REVIEWER
    from workflows.skill_subsidy import SkillSubsidyWorkflow

    await wait_for(
        h,
        SkillSubsidyWorkflow.state_query,
        lambda s: s.status.value == "under_review" and len(s.rounds) >= rounds,
    )
    await h.execute_update(SkillSubsidyWorkflow.decide_subsidy, SubsidyDecisionCommand(actor=REVIEWER, **cmd))


@scenario("skill_subsidy", "employee_fit_approved_paid", module=SUBSIDY, params=_subsidy_params)
async def subsidy_employee_paid(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """An insured employee with the employer's fit statement: checks pass, approved, paid once."""
    h = await _subsidy(ctx)
    await _subsidy_decide(h, action="approve")
    return h


@scenario("skill_subsidy", "recipient_approved_paid", module=SUBSIDY, params=_subsidy_params)
async def subsidy_recipient_paid(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """A benefit recipient (rule confirmed for 2026 by the overlay), no fit statement: paid."""
    h = await _subsidy(ctx, fit=False, recipient=True)
    await _subsidy_decide(h, action="approve")
    return h


@scenario("skill_subsidy", "rejected_reapplied_paid", module=SUBSIDY, params=_subsidy_params)
async def subsidy_reapplied(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """Without the fit statement: refused with reason and remedy; re-applied with it; paid."""
    from models.skill_subsidy import SubsidyReapply
    from workflows.skill_subsidy import SkillSubsidyWorkflow

    h = await _subsidy(ctx, fit=False)
    await _subsidy_decide(
        h, action="reject", reason="缺少证岗相适材料", remedy="请补充单位盖章的证岗相适材料后重新申请"
    )
    await wait_for(h, SkillSubsidyWorkflow.state_query, lambda s: s.status.value == "rejected")
    doc = await stored_document(ctx, "job_fit_statement", b"fit:reapply")
    await h.execute_update(SkillSubsidyWorkflow.reapply, SubsidyReapply(by="applicant", fit_statement=doc))
    await _subsidy_decide(h, rounds=2, action="approve")
    return h


@scenario("skill_subsidy", "site_down_blocked_unblocked_paid", module=SUBSIDY, params=_subsidy_params)
async def subsidy_blocked(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """The certificate site down: retried, blocked (never "not found"), released by operations."""
    from models.case import UnblockCommand
    from tests.factories import OPS
    from workflows.skill_subsidy import SkillSubsidyWorkflow

    await sim_admin(ctx, "PUT", "/admin/faults/certificates", json={"error_rate": 1.0})
    h = await _subsidy(ctx)
    await wait_for(h, SkillSubsidyWorkflow.state_query, lambda s: s.blocked is not None)
    await sim_admin(ctx, "DELETE", "/admin/faults/certificates")
    await h.execute_update(
        SkillSubsidyWorkflow.unblock_case, UnblockCommand(actor=OPS, note="证书查询系统已恢复")
    )
    await _subsidy_decide(h, action="approve")
    return h


# --- medical-premium refund (notice item 4) --------------------------------------------------------
# A past benefit period (paid at once, today's run) with months the person paid himself as a flexible
# worker (the medical system refuses the agency's payment for them); the refund is claimed for that
# contribution year, which has ended.

REFUND = "workflows.premium_refund"


async def _refund(ctx: Ctx, *, year_offset: int = 1, receipts: int = 2) -> WorkflowHandle[Any, Any]:
    from models.rules import YearMonth
    from tests.factories import sim_person
    from tests.refund_support import refund_application, self_paid, start_refund

    year = datetime.now(TZ).year - year_offset
    p = await sim_person(ctx.sim.base_url, ctx.sim.token, scenario="eligible", registered=True)
    await self_paid(ctx.sim, p["id_number"], YearMonth(year, 10), "200.00")
    await self_paid(ctx.sim, p["id_number"], YearMonth(year, 11), "450.00")
    if year_offset:
        from tests.workflow.conftest import period_input, start_period

        period = await start_period(
            _case_env(ctx), period_input(ctx.settings, p, first=YearMonth(year, 9), months=3)
        )
        await _months_paid(ctx, period, 3)
    docs = [
        await stored_document(ctx, "premium_receipt", f"receipt:{p['id_number'][-4:]}:{i}".encode())
        for i in range(receipts)
    ]
    app = refund_application(p, "year_end", year=year, claimed={YearMonth(year, 11): "480.00"}, receipts=docs)
    return await start_refund(_case_env(ctx), app)


async def _refund_decide(h: WorkflowHandle[Any, Any], rounds: int = 1, **cmd: Any) -> None:
    from models.premium_refund import RefundDecisionCommand
    from tests.factories import REVIEWER
    from workflows.premium_refund import PremiumRefundWorkflow

    await wait_for(
        h,
        PremiumRefundWorkflow.state_query,
        lambda s: s.status.value == "under_review" and len(s.rounds) >= rounds,
    )
    await h.execute_update(PremiumRefundWorkflow.decide_refund, RefundDecisionCommand(actor=REVIEWER, **cmd))


@scenario("premium_refund", "counter_approved_paid", module=REFUND, params=_period_params)
async def refund_paid(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """At the counter with two receipts for last year: October 200.00 (below the standard), November
    the standard (paid 450.00, claimed 480.00: the difference shown); approved, paid once."""
    h = await _refund(ctx)
    await _refund_decide(h, action="approve")
    return h


@scenario("premium_refund", "rejected_reapplied_paid", module=REFUND, params=_period_params)
async def refund_reapplied(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """One receipt: refused with reason and remedy; re-applied with the second receipt; paid."""
    from models.premium_refund import RefundReapply
    from workflows.premium_refund import PremiumRefundWorkflow

    h = await _refund(ctx, receipts=1)
    await _refund_decide(
        h, action="reject", reason="缺少11月份的缴费凭证", remedy="请补交11月份的缴费凭证后重新申请"
    )
    await wait_for(h, PremiumRefundWorkflow.state_query, lambda s: s.status.value == "rejected")
    doc = await stored_document(ctx, "premium_receipt", f"receipt:{h.id}:again".encode())
    await h.execute_update(PremiumRefundWorkflow.reapply, RefundReapply(by="clerk.xc", receipts=[doc]))
    await _refund_decide(h, rounds=2, action="approve", round=2)
    return h


@scenario("premium_refund", "year_not_ended_closed", module=REFUND, params=_period_params)
async def refund_too_early(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """This year's refund asked for before the contribution year ends: closed, told the date."""
    return await _refund(ctx, year_offset=0)


@scenario("skill_alerts", "referred_confirmed_recovery", module="workflows.skill_alerts")
async def alert_confirmed(ctx: Ctx) -> WorkflowHandle[Any, Any]:
    """An out-of-region alert referred to the skill-appraisal department, confirmed: recovery."""
    from models.enums import Role
    from models.skill_subsidy import AlertInput, AppraisalResponse, ReferAlert, SkillAlert
    from models.staff import StaffActor
    from workflows.base import initial_search_attributes
    from workflows.skill_alerts import SkillAlertWorkflow

    inspector = StaffActor(
        login="inspector.nmg", name="吴稽核", roles=[Role.RISK_INSPECTOR], region_code="150000"
    )
    alert = SkillAlert(
        key=f"out_of_region-{uuid.uuid4().hex[:12]}",
        kind="out_of_region",
        region_code="150100",
        text_zh="技能提升补贴申请的证书在130102取得，而申请人的参保地为150102，请核查异地取证的真实性。",
        figures={"issuer_region": "130102", "home_region": "150102"},
        case_ids=["subsidy-150102-00000000-record"],
    )
    case_id = f"skill-alert-{alert.key}"
    h = await ctx.env.client.start_workflow(
        SkillAlertWorkflow.run,
        AlertInput(case_id=case_id, alert=alert, raised_at=await ctx.env.get_current_time()),
        id=case_id,
        task_queue=ctx.task_queue,
        search_attributes=initial_search_attributes("skill_alert", "150100", "open"),
        execution_timeout=timedelta(days=30),
    )
    await h.execute_update(SkillAlertWorkflow.refer_alert, ReferAlert(actor=inspector))
    await h.execute_update(
        SkillAlertWorkflow.appraisal_response,
        AppraisalResponse(actor=inspector, outcome="confirmed", note="证书系异地机构违规代考取得"),
    )
    return h


# --- runner -------------------------------------------------------------------------------------


def available(s: Scenario) -> bool:
    try:
        importlib.import_module(s.module)
    except ModuleNotFoundError as e:
        if e.name == s.module:
            return False
        raise
    return True


def recorded_files(out: Path, name: str) -> list[Path]:
    """The files already written for ``name``: one file, or one per run of a continue-as-new chain."""
    single = out / f"{name}.json"
    return ([single] if single.exists() else []) + sorted(out.glob(f"{name}--run*.json"))


def with_params(s: Scenario, settings: Settings) -> Settings:
    """The scenario's settings: its operator parameter overlay, if it has one, in the temp dir."""
    if s.params is None:
        return settings
    folder = settings.data_dir / "params" / s.key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "operator.yaml").write_text(s.params(), encoding="utf-8")
    return settings.model_copy(update={"params_dir": folder})


async def record_one(
    s: Scenario, settings: Settings, db: Database, sim: SimHandle, out: Path, name: str
) -> list[Path]:
    settings = with_params(s, settings)
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=make_data_converter(settings),
        test_server_existing_path=str(TEST_BIN / "temporal-test-server"),
    )
    keys: list[Any] = list(sa.ALL)
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace="default",
                search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in keys},
            )
        )
        queue = f"record-{uuid.uuid4().hex[:8]}"
        gov = GovClients.from_settings(settings)
        async with build_worker(env.client, settings, db, task_queue=queue, gov=gov):
            ctx = Ctx(env=env, task_queue=queue, settings=settings, db=db, sim=sim)
            h = await s.drive(ctx)
            await asyncio.wait_for(h.result(), timeout=120)  # follows continue-as-new to the last run
            chain = await fetch_chain(env.client, h.id)  # every run, first to last
        for old in recorded_files(out, name):  # --force: a chain may now have fewer runs
            old.unlink()
        if len(chain) == 1:
            paths = [out / f"{name}.json"]
        else:
            paths = [out / f"{name}--run{i}.json" for i in range(1, len(chain) + 1)]
        for path, history in zip(paths, chain, strict=True):
            path.write_text(history.to_json() + "\n", encoding="utf-8")
        return paths
    finally:
        await close_all()
        await env.shutdown()


async def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="*", help="glob over scenario keys, e.g. 'benefit_claim__*'")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--list", action="store_true")
    ap.add_argument(
        "--force",
        action="store_true",
        help="overwrite existing files (default: record only scenarios that have no file yet)",
    )
    ap.add_argument(
        "--suffix",
        default="",
        help="write <scenario>--<suffix>.json, keeping the old files (after a workflow.patched change)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("temporalio").setLevel(logging.ERROR)  # expected activity failures (blocked path)
    chosen = [s for k, s in SCENARIOS.items() if fnmatch.fnmatch(k, args.only)]
    if args.list:
        for s in chosen:
            mark = "" if available(s) else "  (workflow not written yet: skipped)"
            print(f"{s.key}{mark}\n    {s.doc}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="uiflow-record-") as tmp:
        base = test_settings(Path(tmp))
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'cases.db'}")
        await upgrade(db)
        async with db.session() as sess:
            await seed_regions(sess)
            await seed_demo_staff(sess)
        try:
            async with running_sim(seed=42, population=300) as sim:
                settings = base.model_copy(update={"sim_base_url": sim.base_url, "sim_token": sim.token})
                for s in chosen:
                    if not available(s):
                        print(f"skip   {s.key}: {s.module} does not exist yet")
                        continue
                    name = f"{s.key}--{args.suffix}" if args.suffix else s.key
                    existing = recorded_files(args.out, name)
                    if existing and not args.force:
                        shown = ", ".join(p.name for p in existing)
                        print(f"keep   {shown} (exists; --force to re-record)")
                        continue
                    t0 = time.monotonic()
                    paths = await record_one(s, settings, db, sim, args.out, name)
                    took = time.monotonic() - t0
                    for path in paths:
                        size = path.stat().st_size / 1024
                        print(f"wrote  {path.relative_to(ROOT)}  ({size:.0f} KiB, {took:.1f}s)")
        finally:
            await db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
