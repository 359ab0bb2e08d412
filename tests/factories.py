"""Test-data factories shared by the tests of every case type: the staff who act, simulated persons
and applications, claim and dispute inputs, documents in the store, and the history checks that
prove a refusal left no trace.

Why one module: a case type's tests build on the others' (a dispute needs a rejected claim, a
period an approved one), so per-type support modules imported each other; new case types add
their factories here."""

from __future__ import annotations

import asyncio
import hashlib
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select
from temporalio import activity
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from core.applicant import applicant_key
from core.audit import AuditLog
from core.db import Database
from core.settings import Settings
from models import search_attributes as sa
from models.case import AuditEntry
from models.claim import (
    ApproveCommand,
    ClaimApplication,
    ClaimInput,
    ClaimState,
    ClaimStatus,
    ClaimTimings,
    DocumentRef,
    RejectCommand,
    RejectReason,
    RiskFindingCommand,
)
from models.dispute import DisputeApplication, DisputeInput, DisputeTimings, missing_documents
from models.enums import Channel, Role
from models.rules import ApplicantKind, CertificateLevel
from models.service_request import (
    Requester,
    RequestKind,
    ServiceChannel,
    ServiceRequestInput,
    ServiceRequestState,
    request_id_for,
)
from models.skill_subsidy import SubsidyApplication, SubsidyInput, SubsidyState, SubsidyStatus, subsidy_id_for
from models.staff import StaffActor
from models.tables import CaseRecord, Document, SkillSubsidyGrant, Staff
from models.verification import HitBatch, HitRecord, VerificationInput, VerificationParty, verification_id_for
from sim.testing import SimHandle
from tests.waiting import WAIT_S, polls
from workflows.base import initial_search_attributes
from workflows.benefit_claim import BenefitClaimWorkflow
from workflows.service_request import ServiceRequestWorkflow
from workflows.skill_subsidy import SkillSubsidyWorkflow
from workflows.stop_reason_dispute import StopReasonDisputeWorkflow
from workflows.verification import VerificationWorkflow

REVIEWER = StaffActor(login="reviewer.xc", name="李审核", roles=[Role.REVIEWER], region_code="150102")
LEAGUE_REVIEWER = StaffActor(
    login="reviewer.hhht", name="赵审核", roles=[Role.REVIEWER], region_code="150100"
)
OTHER_REGION_REVIEWER = StaffActor(
    login="reviewer.dh", name="郑审核", roles=[Role.REVIEWER], region_code="150202"
)
CLERK = StaffActor(login="clerk.xc", name="王窗口", roles=[Role.INTAKE_CLERK], region_code="150102")
OPS = StaffActor(login="ops.nmg", name="陈运维", roles=[Role.OPS_ENGINEER], region_code="150000")
INSPECTOR = StaffActor(login="inspector.xc", name="周稽核", roles=[Role.RISK_INSPECTOR], region_code="150102")
SUPERVISOR = StaffActor(login="supervisor.xc", name="吴主管", roles=[Role.SUPERVISOR], region_code="150102")


@dataclass
class CaseEnv:
    env: WorkflowEnvironment
    task_queue: str
    settings: Settings
    db: Database


async def sim_person(base_url: str, token: str, **overrides: Any) -> dict[str, Any]:
    """An exact person in the simulated government systems (POST /admin/persons)."""
    overrides.setdefault("insured_region", "150102")
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        r = await c.post("/admin/persons", json=overrides)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def application_for(person: dict[str, Any], region: str = "150102") -> ClaimApplication:
    return ClaimApplication(
        id_number=person["id_number"],
        name=person["name"],
        phone=person["phone"],
        bank_account=person["account_no"],
        bank_name=person["bank_name"],
        region_code=region,
        employer_credit_code=person["last_employer"],
        separation_date=date.fromisoformat(person["stop_date"]),
    )


def claim_input(
    settings: Settings,
    person: dict[str, Any],
    *,
    channel: Channel = Channel.COUNTER,
    submitted_by: str = "clerk.xc",
    received_at: datetime | None = None,
    timings: ClaimTimings | None = None,
) -> ClaimInput:
    app = application_for(person)
    key = applicant_key(settings, app.id_number)
    return ClaimInput(
        case_id=f"claim-{app.region_code}-{key}-{uuid.uuid4().hex[:4]}",
        applicant_key=key,
        application=app,
        channel=channel,
        received_at=received_at or datetime.now(UTC),
        submitted_by="applicant" if channel == Channel.ONLINE else submitted_by,
        submitted_by_region=None if channel == Channel.ONLINE else "150102",
        timings=timings or ClaimTimings(),
    )


async def history_length(handle: WorkflowHandle[Any, Any]) -> int:
    return len((await handle.fetch_history()).events)


async def settled_history_length(handle: WorkflowHandle[Any, Any], limit: float = WAIT_S) -> int:
    """The history length once the workflow is idle (no activity pending, length stable)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    last, stable = -1, 0
    while loop.time() < end:
        n = await history_length(handle)
        desc = await handle.describe()
        pending = len(desc.raw_description.pending_activities)
        stable = stable + 1 if (n == last and pending == 0) else 0
        if stable >= 3:
            return n
        last = n
        await asyncio.sleep(0.1)
    raise AssertionError("workflow did not settle")


WORKFLOW_TASK_EVENTS = {
    "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    "EVENT_TYPE_WORKFLOW_TASK_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
}


async def events_since(handle: WorkflowHandle[Any, Any], n: int) -> list[str]:
    """Event type names after the first ``n`` events."""
    from temporalio.api.enums.v1 import EventType

    return [EventType.Name(e.event_type) for e in (await handle.fetch_history()).events[n:]]


async def assert_untouched(handle: WorkflowHandle[Any, Any], before: int) -> None:
    """A refused Update left no decision in history. The dev server leaves no event at all; the
    time-skipping test server records the (empty) workflow task that ran the validator, so only
    that bookkeeping is allowed: no update accepted, no command, no state change."""
    extra = await events_since(handle, before)
    assert set(extra) <= WORKFLOW_TASK_EVENTS, extra


# --- stop-reason disputes ----------------------------------------------------------------------

SECOND = StaffActor(login="second.hhht", name="钱复审", roles=[Role.SECOND_REVIEWER], region_code="150100")
FINAL = StaffActor(login="final.nmg", name="孙终审", roles=[Role.FINAL_REVIEWER], region_code="150000")

ClaimHandle = WorkflowHandle[BenefitClaimWorkflow, Any]
DisputeHandle = WorkflowHandle[StopReasonDisputeWorkflow, Any]


async def store_documents(db: Database, *kinds: str) -> list[DocumentRef]:
    """Uploaded files as the document store holds them (the dispute links them by id and hash)."""
    refs = []
    async with db.session() as s:
        for kind in kinds:
            doc_id = str(uuid.uuid4())
            digest = hashlib.sha256(f"{kind}:{doc_id}".encode()).hexdigest()
            s.add(
                Document(
                    id=doc_id,
                    kind=kind,
                    filename=f"{kind}.pdf",
                    content_type="application/pdf",
                    sha256=digest,
                    size=1024,
                    uploaded_by="test",
                    uploaded_at=datetime.now(UTC),
                    storage_key=f"test/{doc_id}",
                )
            )
            refs.append(DocumentRef(id=doc_id, kind=kind, sha256=digest, filename=f"{kind}.pdf"))
        await s.commit()
    return refs


async def applied(h: WorkflowHandle[Any, Any], limit: float = WAIT_S) -> None:
    """Until the case has applied the decision it accepted last: a decision's Update answers on
    acceptance (issue 19), and the case refuses the next one ``review.busy`` until then."""
    deadline = asyncio.get_running_loop().time() + limit
    while await h.query("decision_processing", result_type=bool):
        assert asyncio.get_running_loop().time() < deadline, "decision still being applied"
        await asyncio.sleep(0.05)


async def wait_claim(h: ClaimHandle, status: ClaimStatus, rounds: int = 1) -> ClaimState:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        s = await h.query(BenefitClaimWorkflow.state_query)
        if s.status == status and len(s.rounds) >= rounds:
            return s
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"claim at {s.status}; timeline: {[e.what for e in s.timeline]}")
        await asyncio.sleep(0.05)


async def start_claim(ce: CaseEnv, inp: ClaimInput) -> ClaimHandle:
    """A claim in district 150102 on the test's worker."""
    return await ce.env.client.start_workflow(
        BenefitClaimWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("benefit_claim", "150102", "checking"),
        execution_timeout=timedelta(days=400),
    )


async def at_review(ce: CaseEnv, h: ClaimHandle, rounds: int = 1) -> ClaimState:
    """The claim before its reviewer. A claim a risk rule flagged (other tests' claims from the same
    employer share this database) is first cleared by the inspector, as at the agency; the risk
    tests themselves (tests/workflow/test_risk_verification.py) check that stage."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        s = await h.query(BenefitClaimWorkflow.state_query)
        if len(s.rounds) >= rounds and s.status == ClaimStatus.UNDER_REVIEW:
            return s
        if len(s.rounds) >= rounds and s.status == ClaimStatus.RISK_VERIFICATION:
            docs = await store_documents(ce.db, "verification_record")
            cleared = RiskFindingCommand(
                actor=INSPECTOR, outcome="cleared", finding="核实无误", evidence=docs
            )
            await h.execute_update(BenefitClaimWorkflow.record_risk_finding, cleared)
            await applied(h)  # the finding answers on acceptance: never send it twice
        elif asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"claim at {s.status}; timeline: {[e.what for e in s.timeline]}")
        await asyncio.sleep(0.05)


async def rejected_claim(ce: CaseEnv, person: dict[str, Any]) -> ClaimHandle:
    """A real claim, rejected because the record says voluntary resignation."""
    h = await start_claim(ce, claim_input(ce.settings, person))
    s = await at_review(ce, h)
    report = s.rounds[0].report
    assert report is not None and not report.eligibility.eligible
    assert report.eligibility.suggested_reject_reason == RejectReason.VOLUNTARY_SEPARATION
    reason = RejectReason.VOLUNTARY_SEPARATION
    await h.execute_update(
        BenefitClaimWorkflow.reject,
        RejectCommand(
            actor=REVIEWER, reason_code=reason, remedy="可由原单位申请变更停保原因，变更后自动重新审核。"
        ),
    )
    await wait_claim(h, ClaimStatus.REJECTED)
    return h


async def claim_paid_after_change(ce: CaseEnv, claim: ClaimHandle, dispute_id: str) -> None:
    s = await at_review(ce, claim, rounds=2)
    second = s.rounds[1]
    assert second.trigger == "stop_reason_changed"
    assert second.report is not None and second.report.eligibility.eligible
    assert second.report.stop_reason.involuntary
    assert any(e.what == "stop_reason.changed" and e.actor == dispute_id for e in s.timeline)
    await claim.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    result = await claim.result()
    assert result.status == ClaimStatus.APPROVED and result.rounds == 2 and result.entitlement is not None


async def messages(sim: SimHandle, case_id: str, wait_for: str | None = None) -> list[dict[str, Any]]:
    for _ in polls():
        async with httpx.AsyncClient(base_url=sim.base_url) as c:
            r = await c.get("/admin/notifier/messages", params={"case_ref": case_id})
            msgs: list[dict[str, Any]] = r.json()["messages"]
        if wait_for is None or any(m["template"] == wait_for for m in msgs):
            return msgs
        await asyncio.sleep(0.05)
    return msgs


async def audit_actions(db: Database, case_id: str) -> list[tuple[str, str]]:
    async with db.session() as s:
        rows = (
            await s.exec(select(AuditLog).where(AuditLog.case_id == case_id).order_by(col(AuditLog.id)))
        ).all()
    return [(r.action, r.actor) for r in rows]


def employer_actor(person: dict[str, Any]) -> StaffActor:
    return StaffActor(
        login=person["last_employer"], name="原用人单位", roles=[Role.EMPLOYER], region_code="150102"
    )


async def dispute_input(
    ce: CaseEnv,
    person: dict[str, Any],
    *,
    channel: Channel,
    requested: str = "employer_dismissal",
    timings: DisputeTimings | None = None,
) -> DisputeInput:
    if channel == Channel.EMPLOYER_WEBSITE:
        docs = await store_documents(ce.db, "termination_agreement", "reason_change_statement")
        by = employer_actor(person)
    else:
        docs = await store_documents(ce.db, "arbitration_award")
        by = CLERK
    app = DisputeApplication(
        id_number=person["id_number"],
        name=person["name"],
        phone=person["phone"],
        region_code="150102",
        employer_credit_code=person["last_employer"],
        requested_reason_code=requested,
        statement="双方协商解除劳动合同系单位提出，原登记为个人辞职有误",
        documents=docs,
    )
    assert not missing_documents(channel, docs)
    key = applicant_key(ce.settings, app.id_number)
    return DisputeInput(
        case_id=f"dispute-150102-{key}-{uuid.uuid4().hex[:4]}",
        applicant_key=key,
        application=app,
        channel=channel,  # type: ignore[arg-type]
        received_at=datetime.now(UTC),
        submitted_by=by,
        timings=timings or DisputeTimings(),
    )


async def start_dispute(ce: CaseEnv, inp: DisputeInput) -> DisputeHandle:
    return await ce.env.client.start_workflow(
        StopReasonDisputeWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("stop_reason_dispute", "150102", "under_review"),
        execution_timeout=timedelta(days=400),
    )


# --- skill-upgrade subsidies ----------------------------------------------------------------------

SubsidyHandle = WorkflowHandle[SkillSubsidyWorkflow, Any]
GRADE_OF = {CertificateLevel.JUNIOR: 5, CertificateLevel.INTERMEDIATE: 4, CertificateLevel.SENIOR: 3}
OCCUPATION_NAMES = {
    "6-31-01-03": "电工",
    "4-03-02-01": "中式烹调师",
    "4-12-01-01": "汽车维修工",
    "6-18-02-04": "焊工",
}


async def sim_certificate(
    sim: SimHandle,
    holder: dict[str, Any],
    *,
    occupation_code: str = "4-12-01-01",
    level: CertificateLevel = CertificateLevel.INTERMEDIATE,
    issued_on: date | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A certificate on the simulated national site (POST /admin/certificates)."""
    body = {
        "holder_id_number": holder["id_number"],
        "occupation_code": occupation_code,
        "level": GRADE_OF[level],
        "issued_on": (issued_on or date.today() - timedelta(days=30)).isoformat(),
        **extra,
    }
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await c.post("/admin/certificates", json=body)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def subsidy_application(
    person: dict[str, Any],
    cert: dict[str, Any],
    *,
    kind: ApplicantKind = ApplicantKind.INSURED_EMPLOYEE,
    fit: DocumentRef | None = None,
    level: CertificateLevel | None = None,
) -> SubsidyApplication:
    grade = {v: k for k, v in GRADE_OF.items()}
    return SubsidyApplication(
        id_number=person["id_number"],
        name=person["name"],
        phone=person["phone"],
        applicant_kind=kind,
        region_code="150102",
        cert_no=cert["cert_no"],
        occupation_code=cert["occupation_code"],
        occupation=cert["occupation"],
        level=level or grade[cert["level"]],
        issued_on=date.fromisoformat(cert["issued_on"]),
        bank_account=person["account_no"],
        bank_name=person["bank_name"],
        employer_credit_code=person["last_employer"] if kind == ApplicantKind.INSURED_EMPLOYEE else None,
        fit_statement=fit,
    )


async def start_subsidy(
    ce: CaseEnv, app: SubsidyApplication, *, channel: Channel = Channel.COUNTER
) -> SubsidyHandle:
    key = applicant_key(ce.settings, app.id_number)
    inp = SubsidyInput(
        case_id=subsidy_id_for("150102", key, uuid.uuid4().hex[:6]),
        applicant_key=key,
        application=app,
        channel=channel,
        received_at=datetime.now(UTC),
        submitted_by="applicant" if channel == Channel.ONLINE else "clerk.xc",
    )
    return await ce.env.client.start_workflow(
        SkillSubsidyWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("skill_subsidy", "150102", "checking"),
        execution_timeout=timedelta(days=400),
    )


async def wait_subsidy(
    h: SubsidyHandle, status: SubsidyStatus, rounds: int = 1, *, blocked: bool = False
) -> SubsidyState:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        s = await h.query(SkillSubsidyWorkflow.state_query)
        if s.blocked is not None if blocked else s.status == status and len(s.rounds) >= rounds:
            return s
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"subsidy at {s.status}; timeline: {[e.what for e in s.timeline]}")
        await asyncio.sleep(0.05)


async def running_benefit_period(db: Database, key: str, region: str = "150102") -> str:
    """The read-model row of a running benefit period (what makes a person a recipient now)."""
    case_id = f"period-claim-{region}-{key}-{uuid.uuid4().hex[:4]}"
    now = datetime.now(UTC)
    async with db.session() as s:
        s.add(
            CaseRecord(
                case_id=case_id,
                case_type="benefit_period",
                status="active",
                region_code=region,
                applicant_key=key,
                received_at=now,
                updated_at=now,
            )
        )
        await s.commit()
    return case_id


async def prior_grant(
    db: Database, key: str, occupation_code: str, level: CertificateLevel, *, shortage: bool = False
) -> None:
    """A subsidy granted to the person earlier this year."""
    async with db.session() as s:
        s.add(
            SkillSubsidyGrant(
                case_id=f"subsidy-150102-{key}-{uuid.uuid4().hex[:6]}",
                applicant_key=key,
                cert_no=f"P{uuid.uuid4().hex[:12].upper()}",
                occupation_code=occupation_code,
                level=level.value,
                applied_on=date.today() - timedelta(days=1),
                shortage=shortage,
                amount=Decimal("1500"),
                region_code="150102",
                created_at=datetime.now(UTC),
            )
        )
        await s.commit()


# --- Temporal test servers and held activities ------------------------------------------------------


async def time_skipping_env(data_converter: DataConverter) -> WorkflowEnvironment:
    """A fresh time-skipping server (each test owns its clock) with the case search attributes
    registered (it has no visibility store of its own, temporal-notes §3)."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter,
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in sa.ALL},
        )
    )
    return env


@dataclass
class HeldAudit:
    """A ``write_audit`` activity (by name) that can be held: it opens the gap between a decision
    being taken and being processed, so a race is a deterministic test. Records the actions."""

    actions: list[str] = field(default_factory=list)
    hold: bool = False
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name="write_audit")
    async def write_audit(self, e: AuditEntry) -> None:
        if self.hold:
            self.entered.set()
            await self.release.wait()
        self.actions.append(e.action)

    def open_gap(self) -> None:
        self.hold, self.entered, self.release = True, asyncio.Event(), asyncio.Event()

    def close_gap(self) -> None:
        self.hold = False
        self.release.set()


# --- consultations and complaints ------------------------------------------------------------------

SUPERVISOR = StaffActor(login="supervisor.hhht", name="周主管", roles=[Role.SUPERVISOR], region_code="150100")


def request_input(
    *,
    kind: RequestKind = RequestKind.CONSULTATION,
    channel: ServiceChannel = ServiceChannel.COUNTER,
    received_at: datetime,
    submitted_by: StaffActor = CLERK,
    region: str = "150102",
    **fields: Any,
) -> ServiceRequestInput:
    ref = fields.pop("ref", None) or uuid.uuid4().hex[:8]
    fields.setdefault("content", "请问失业保险金怎么申领？")
    fields.setdefault("requester", Requester(name="张三", phone="13900000001"))
    return ServiceRequestInput(
        case_id=request_id_for(region, channel.value, ref),
        kind=kind,
        channel=channel,
        region_code=region,
        received_at=received_at,
        submitted_by=submitted_by,
        **fields,
    )


RequestHandle = WorkflowHandle[ServiceRequestWorkflow, Any]


async def start_request(ce: CaseEnv, inp: ServiceRequestInput) -> RequestHandle:
    return await ce.env.client.start_workflow(
        ServiceRequestWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("complaint", inp.region_code, "open"),
        execution_timeout=timedelta(days=400),
    )


async def wait_request(h: RequestHandle, stage: str, limit: float = WAIT_S) -> ServiceRequestState:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        s = await h.query(ServiceRequestWorkflow.state_query)
        if s.stage == stage:
            return s
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"request at {s.stage}; timeline: {[e.what for e in s.timeline]}")
        await asyncio.sleep(0.05)


async def hotline_order(sim: SimHandle, **fields: Any) -> dict[str, Any]:
    """A work order the simulated 12333 hotline took (its push goes wherever the callback points)."""
    fields.setdefault("region_code", "150102")
    fields.setdefault("content", "来电咨询失业保险金发放时间")
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await c.post("/admin/hotline/orders", json=fields)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


# --- verification cases (核查) -------------------------------------------------------------------

VerificationHandle = WorkflowHandle[VerificationWorkflow, Any]


async def start_verification(
    ce: CaseEnv,
    parties: list[VerificationParty],
    ref: str,
    *,
    rule: str = "scan.shared_contact",
    found_at: datetime | None = None,
) -> VerificationHandle:
    """A verification case opened by a scan hit over ``parties`` (district 150102), found at
    ``found_at`` (default: the test clock's now; the rules' report counts it in that month)."""
    found = found_at or await ce.env.get_current_time()
    case_id = verification_id_for("150102", ref)
    people = sum(1 for p in parties if p.kind == "person")
    hit = HitRecord(
        rule=rule,
        rule_version="risk-scan-1",
        explanation_zh=f"{people}名申领人登记同一联系电话及同一代办人",
        figures={"people": str(people)},
        found_at=found,
        parties=[p.key for p in parties],
    )
    inp = VerificationInput(
        case_id=case_id,
        region_code="150102",
        opened_by="risk-scan",
        opened_at=datetime.now(UTC),
        reason_zh="风险筛查：疑似中介组织骗保",
        hits=HitBatch(hits=[hit], parties=parties),
    )
    return await ce.env.client.start_workflow(
        VerificationWorkflow.run,
        inp,
        id=case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("risk_check", "150102", "open"),
        execution_timeout=timedelta(days=800),
    )


async def assert_sent_to_district_staff(
    db: Database, recipients: list[str], *, role: str, region: str, includes: str
) -> None:
    """A message to "the reviewers (clerks, ...) of a district": the demo member ``includes`` got it,
    and everyone who got it is an active member of that role in that district, once. (Other tests
    add staff to the demo districts of the shared database, so the exact list is not fixed.)"""
    assert f"staff:{includes}" in recipients, recipients
    assert len(set(recipients)) == len(recipients), recipients
    async with db.session() as s:
        for r in recipients:
            row = (await s.exec(select(Staff).where(Staff.login == r.removeprefix("staff:")))).first()
            assert row is not None and row.active and role in row.roles and row.region_code == region, r
