"""Builders for the medical-premium refund tests (workflow, API, recorded histories): the person's
self-payments and medical status in the simulated medical-insurance system, the application, and
starting and waiting on the case. Kept apart from ``tests/factories.py`` so case types do not
edit one shared file."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select
from temporalio.client import WorkflowHandle

from core.applicant import applicant_key
from core.db import Database
from models.enums import Channel
from models.person import DocumentRef
from models.premium_refund import (
    ClaimedMonth,
    RefundApplication,
    RefundBasis,
    RefundInput,
    RefundState,
    RefundStatus,
    refund_id_for,
)
from models.rules import YearMonth
from models.tables import PremiumMonth, PremiumRefundLine
from sim.testing import SimHandle
from tests.factories import CaseEnv
from tests.waiting import WAIT_S
from workflows.base import initial_search_attributes
from workflows.premium_refund import PremiumRefundWorkflow

RefundHandle = WorkflowHandle[PremiumRefundWorkflow, Any]


async def self_paid(sim: SimHandle, id_number: str, month: YearMonth, amount: str) -> None:
    """The person paid ``amount`` himself for ``month`` as a flexible worker (the medical record)."""
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await c.post(
            "/admin/medical/self-payments",
            json={"id_number": id_number, "month": str(month), "amount": amount},
        )
        assert r.status_code == 200, r.text


def refund_application(
    person: dict[str, Any],
    basis: RefundBasis,
    *,
    year: int | None = None,
    claimed: dict[YearMonth, str] | None = None,
    receipts: list[DocumentRef] | None = None,
) -> RefundApplication:
    return RefundApplication(
        id_number=person["id_number"],
        name=person["name"],
        phone=person["phone"],
        region_code="150102",
        basis=basis,
        year=year,
        claimed=[ClaimedMonth(month=m, amount=Decimal(a)) for m, a in (claimed or {}).items()],
        receipts=receipts or [],
        bank_account=person["account_no"],
        bank_name=person["bank_name"],
    )


async def start_refund(
    ce: CaseEnv, app: RefundApplication, *, channel: Channel = Channel.COUNTER, case_id: str | None = None
) -> RefundHandle:
    key = applicant_key(ce.settings, app.id_number)
    inp = RefundInput(
        case_id=case_id or refund_id_for("150102", key, uuid.uuid4().hex[:8]),
        applicant_key=key,
        application=app,
        channel=channel,
        received_at=await ce.env.get_current_time(),
        submitted_by="applicant" if channel == Channel.ONLINE else "clerk.xc",
    )
    return await ce.env.client.start_workflow(
        PremiumRefundWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("premium_refund", "150102", "checking"),
        execution_timeout=timedelta(days=400),
    )


async def wait_refund(
    h: RefundHandle, status: RefundStatus, rounds: int = 1, limit: float = WAIT_S
) -> RefundState:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        s = await h.query(PremiumRefundWorkflow.state_query)
        if s.status == status and len(s.rounds) >= rounds:
            return s
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"refund at {s.status} (blocked: {s.blocked}); {[e.what for e in s.timeline]}"
            )
        await asyncio.sleep(0.05)


async def ledger_rows(db: Database, key: str) -> list[tuple[str, str, Decimal]]:
    """The refund ledger of one person: (month, case, amount), by month."""
    async with db.session() as s:
        rows = (await s.exec(select(PremiumRefundLine).where(PremiumRefundLine.applicant_key == key))).all()
    return sorted((r.month, r.case_id, r.amount) for r in rows)


async def bank_payments(sim: SimHandle, key: str) -> int:
    """How many times the bank paid under ``key``."""
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await c.get("/admin/bank/ledger")
        r.raise_for_status()
        return int(r.json()["payments_per_key"].get(key, 0))


def now_utc() -> datetime:
    return datetime.now(UTC)


#: The on-behalf medical standard the refund tests enter as an operator's parameter overlay (the
#: packaged standards are empty until the medical-insurance bureau publishes them).
STANDARD = Decimal("368.50")
STANDARD_OVERLAY = f"""\
parameters:
  medical.proxy_standard_monthly:
    values:
      - effective_from: 2020-01-01
        value: "{STANDARD}"
        status: unconfirmed
        source: "test: the 医保 bureau's on-behalf standard"
"""


def params_with_standard(root: Path) -> Path:
    """A parameters directory holding the standard's overlay."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "operator.yaml").write_text(STANDARD_OVERLAY, encoding="utf-8")
    return root


async def seed_failed_months(db: Database, key: str, months: list[YearMonth]) -> str:
    """What the pay day leaves for a flexible worker: each month's on-behalf premium refused for a
    refundable reason (tests that need the failed months without running a benefit period)."""
    now, case_id = datetime.now(UTC), f"period-{uuid.uuid4().hex[:8]}"
    async with db.session() as s:
        for m in months:
            s.add(
                PremiumMonth(
                    idempotency_key=f"premium:{case_id}:{m}",
                    case_id=case_id,
                    applicant_key=key,
                    region_code="150102",
                    month=str(m),
                    status="failed",
                    total=STANDARD,
                    reason_code="already_insured_flexible",
                    reason_zh="已以灵活就业人员身份参保",
                    created_at=now,
                    updated_at=now,
                )
            )
        await s.commit()
    return case_id
