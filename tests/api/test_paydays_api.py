"""The supervisors' pay-day report over HTTP: the role and region guards and the reconciliation
figures, from the rows the pay-day run writes (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
from sqlalchemy import delete

from api.app import create_app
from core.db import Database
from core.settings import Settings
from models.tables import PaydayRun, PaymentRecovery
from tests.conftest import login

PAY_DATE = date(2031, 3, 10)
PID = "payday-150102-20310310"


async def test_supervisor_reads_the_pay_day_report_others_are_refused(
    settings: Settings, pg_db: Database
) -> None:
    now = datetime.now(UTC)
    async with pg_db.session() as s:
        await s.exec(delete(PaymentRecovery).where(PaymentRecovery.payday_id == PID))  # type: ignore[call-overload,arg-type]
        await s.exec(delete(PaydayRun).where(PaydayRun.payday_id == PID))  # type: ignore[call-overload,arg-type]
        s.add(
            PaydayRun(
                payday_id=PID,
                region_code="150102",
                pay_date=PAY_DATE,
                status="reconciled",
                passes=2,
                chunks=3,
                items=2500,
                paid=2498,
                failed=2,
                rejected=2,
                retried=513,
                amount_paid=Decimal("5647778.00"),
                report={"mismatches": 0, "failed_reasons": {"account.invalid": 2}},
                updated_at=now,
            )
        )
        s.add(
            PaymentRecovery(
                order_key="benefit:period-150102-x-1:2031-03",
                case_id="period-150102-x-1",
                region_code="150102",
                pay_month="2031-03",
                amount=Decimal("2261.00"),
                reason="stopped_at_bank",
                payday_id=PID,
                created_at=now,
            )
        )
        await s.commit()
    app = create_app(settings, db=pg_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        sup = await login(c, "supervisor.hhht")
        r = await c.get("/api/v1/paydays/150102/2031-03-10", headers=sup)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["paid"], body["failed"], body["retried"]) == (2498, 2, 513)
        assert Decimal(body["amount_paid"]) == Decimal("5647778.00")
        assert body["report"]["failed_reasons"] == {"account.invalid": 2}
        assert [(x["pay_month"], x["reason"]) for x in body["recoveries"]] == [("2031-03", "stopped_at_bank")]
        r = await c.get("/api/v1/paydays/150102/2031-03-10", headers=await login(c, "reviewer.xc"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "auth.role"
        r = await c.get("/api/v1/paydays/150202/2031-03-10", headers=sup)  # 包头: not theirs
        assert r.status_code == 403 and r.json()["error"]["code"] == "auth.region"
        r = await c.get("/api/v1/paydays/150102/2031-04-10", headers=sup)
        assert r.status_code == 404 and r.json()["error"]["code"] == "payday.not_found"
