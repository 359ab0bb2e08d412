"""Activities of the verification case (核查): the payment ledger's months and amounts to recover,
the repayment schedule and the fine (policy functions with the parameters in force).

Why activities: the ledger is our database, and the figures must be recorded in the case's history
once (a later parameter or ledger change cannot alter the replay of a decided case)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gov import GovClients
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from models.benefit import BENEFIT_ORDER_KIND
from models.tables import PaymentOrder, RiskHit
from models.verification import (
    Fine,
    FineRequest,
    Installment,
    PaidMonth,
    RecordHits,
    RecoveryLedger,
    RecoveryLedgerRequest,
    RepaymentPlanRequest,
    SettleHits,
)
from policy import verification
from policy.errors import PolicyError


def _refusal(e: PolicyError) -> ApplicationError:
    return ApplicationError(e.message_zh, type=e.code, non_retryable=True)


class VerificationActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db

    @activity.defn
    async def recovery_ledger(self, req: RecoveryLedgerRequest) -> RecoveryLedger:
        """Every benefit month actually paid to the periods named, with its exact amount: what an
        order to repay (责令退回) lists. Orders not paid (ordered, failed) are not owed back."""
        if not req.period_ids:
            return RecoveryLedger(months=[], total=Decimal("0.00"))
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(PaymentOrder).where(
                        col(PaymentOrder.case_id).in_(req.period_ids),
                        PaymentOrder.kind == BENEFIT_ORDER_KIND,
                        PaymentOrder.status == "paid",
                    )
                )
            ).all()
        months = sorted(
            (PaidMonth(case_id=r.case_id, month=r.period, amount=r.amount) for r in rows),
            key=lambda m: (m.case_id, m.month),
        )
        return RecoveryLedger(months=months, total=sum((m.amount for m in months), Decimal("0.00")))

    @activity.defn
    async def repayment_plan(self, req: RepaymentPlanRequest) -> list[Installment]:
        try:
            plan = verification.repayment_schedule(req.total, req.installments, req.start)
        except PolicyError as e:
            raise _refusal(e) from e
        return [Installment(n=i.n, due=i.due, amount=i.amount) for i in plan]

    @activity.defn
    async def fine_for(self, req: FineRequest) -> Fine:
        params = parameters_in_force(self.settings.params_dir)
        try:
            f = verification.fine_amount(req.obtained, req.multiple, req.as_of, params)
        except PolicyError as e:
            raise _refusal(e) from e
        return Fine(
            party=req.party,
            obtained=f.obtained,
            multiple=f.multiple,
            amount=f.amount,
            justification="",
            basis_zh=f.basis_zh,
        )

    @activity.defn
    async def record_hits(self, req: RecordHits) -> None:
        """Write each hit once (the case and the hit's place in it are unique)."""
        async with self.db.session() as s:
            have = set((await s.exec(select(RiskHit.seq).where(RiskHit.case_id == req.case_id))).all())
            for i, h in enumerate(req.hits):
                seq = req.first_seq + i
                if seq in have:
                    continue
                s.add(
                    RiskHit(
                        case_id=req.case_id,
                        seq=seq,
                        rule=h.rule,
                        rule_version=h.rule_version[:128],
                        month=h.found_at.astimezone(SHANGHAI).strftime("%Y-%m"),
                        found_at=h.found_at,
                        people=len(h.parties),
                        explanation=h.explanation_zh[:1000],
                    )
                )
            await s.commit()

    @activity.defn
    async def settle_hits(self, req: SettleHits) -> None:
        """The case's outcome (and what it has recovered so far) on every hit of the case."""
        async with self.db.session() as s:
            rows = (await s.exec(select(RiskHit).where(RiskHit.case_id == req.case_id))).all()
            now = datetime.now(UTC)
            for r in rows:
                r.outcome = req.outcome
                r.recovered = req.recovered
                r.settled_at = now
                s.add(r)
            await s.commit()


SHANGHAI = ZoneInfo("Asia/Shanghai")
ACTIVITY_CLASSES = [VerificationActivities]
