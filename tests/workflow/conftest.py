"""Fixtures and helpers of the benefit-period tests: a time-skipping environment whose worker
reads an operator parameter overlay (a mid-period minimum-wage change and the medical premium
standard, both UNCONFIRMED figures an operator supplies), and builders for period inputs."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from activities.gov import GovClients, close_all
from core.applicant import applicant_key
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from core.temporal_client import make_data_converter
from models import search_attributes as sa
from models.benefit import (
    BenefitPeriodInput,
    PaymentDetails,
    PeriodState,
    PeriodStatus,
    PeriodTimings,
    period_id_for,
)
from models.case import BUSINESS_TZ, local_date
from models.claim import ClaimEntitlement, MonthlyAmount
from models.payday import PaydaySettings
from models.rules import RetirementCategory, YearMonth
from policy.entitlement import benefit_amount
from sim.population import luhn_digit
from sim.testing import SimHandle
from tests.clock import FUTURE_YEAR
from tests.factories import CaseEnv
from tests.waiting import WAIT_S, polls
from workers.main import build_worker
from workflows.base import initial_search_attributes
from workflows.benefit_period import BenefitPeriodWorkflow

BIN = Path(sys.executable).parent
SA_KEYS: list[SearchAttributeKey[Any]] = list(sa.ALL)  # type: ignore[arg-type]
MW_CHANGE = YearMonth(FUTURE_YEAR, 7)
MW_NEW = Decimal("2500")
PREMIUM_STANDARD = Decimal("368.50")

# The monthly benefit as domain.md §B publishes it (pinned figures, not recomputed with
# policy.entitlement, the function under test): from which pay month, months 1–12 (95%; 90% before
# 2024-08), month 13 on (85%; 80%). The last row is this folder's operator overlay (MW_NEW).
DOMAIN_AMOUNTS = [
    (YearMonth(2000, 1), Decimal("1782"), Decimal("1584")),  # MW1 1980, until 2024-07
    (YearMonth(2024, 8), Decimal("1881"), Decimal("1683")),  # MW1 1980 at 95%/85%
    (YearMonth(2024, 12), Decimal("2156.5"), Decimal("1929.5")),  # MW1 2270 (official figures)
    (YearMonth(2025, 12), Decimal("2261"), Decimal("2023")),  # MW1 2380 (UNCONFIRMED, packaged)
]
OVERLAY_AMOUNTS = (MW_CHANGE, Decimal("2375"), Decimal("2125"))  # MW_NEW 2500 at 95%/85%


def domain_amount(month_index: int, pay_month: YearMonth, *, overlay: bool) -> Decimal:
    """The published amount for a benefit month paid in ``pay_month``."""
    rows = [*DOMAIN_AMOUNTS, OVERLAY_AMOUNTS] if overlay else DOMAIN_AMOUNTS
    _, first_year, later = [r for r in rows if r[0] <= pay_month][-1]
    return first_year if month_index <= 12 else later


OVERRIDE = f"""\
# Test overlay, as an operator would write it (docs/operators.md): values for existing parameters.
parameters:
  minimum_wage.category1_monthly:
    values:
      - effective_from: {MW_CHANGE.first_day().isoformat()}
        value: "{MW_NEW}"
        status: unconfirmed
        source: "test: a minimum-wage change in the middle of a benefit period"
  medical.proxy_standard_monthly:
    values:
      - effective_from: 2020-01-01
        value: "{PREMIUM_STANDARD}"
        status: unconfirmed
        source: "test: the 医保 bureau's on-behalf standard"
"""


@pytest.fixture(scope="session")
def period_params_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("period-params")
    (d / "operator.yaml").write_text(OVERRIDE, encoding="utf-8")
    return d


@pytest.fixture(scope="session")
def period_settings(wf_settings: Settings, period_params_dir: Path) -> Settings:
    return wf_settings.model_copy(update={"params_dir": period_params_dir})


@pytest.fixture(params=["sqlite", "postgresql"])
def case_db(request: pytest.FixtureRequest, sqlite_db: Database, pg_db: Database) -> Database:
    """The claim and period workflow tests run on both databases uiflow supports: the embedded
    default (SQLite, ``make dev``) and PostgreSQL (production)."""
    return sqlite_db if request.param == "sqlite" else pg_db


@pytest_asyncio.fixture
async def period_env(period_settings: Settings, case_db: Database) -> AsyncIterator[CaseEnv]:
    """As ``claim_env`` (each test owns its clock), with the operator overlay."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=make_data_converter(period_settings),
        test_server_existing_path=str(BIN / "temporal-test-server"),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in SA_KEYS},
        )
    )
    gov = GovClients.from_settings(period_settings)
    queue = f"periods-{uuid.uuid4().hex[:8]}"
    async with build_worker(env.client, period_settings, case_db, task_queue=queue, gov=gov):
        yield CaseEnv(env=env, task_queue=queue, settings=period_settings, db=case_db)
    await close_all()
    await env.shutdown()


def entitlement(first: YearMonth, months: int) -> ClaimEntitlement:
    """An entitlement as the claim computes it (estimated amounts with the packaged parameters)."""
    schedule = []
    for i in range(1, months + 1):
        a = benefit_amount(i, first + (i - 1))
        schedule.append(
            MonthlyAmount(month_index=i, pay_month=first + (i - 1), amount=a.amount, rate=a.rate, base=a.base)
        )
    return ClaimEntitlement(
        max_months=months,
        new_months=months,
        carried_months=0,
        benefit_start=first.first_day(),
        first_month=first,
        last_month=first + (months - 1),
        schedule=schedule,
        total=sum((m.amount for m in schedule), Decimal("0")),
        parameter_version="test",
    )


def period_input(
    settings: Settings,
    person: dict[str, Any],
    *,
    first: YearMonth,
    months: int,
    receiving: bool | None = None,
    timings: PeriodTimings | None = None,
    region: str = "150102",
) -> BenefitPeriodInput:
    key = applicant_key(settings, person["id_number"])
    claim_id = f"claim-{region}-{key}-{uuid.uuid4().hex[:4]}"
    number = person["id_number"]
    return BenefitPeriodInput(
        case_id=period_id_for(claim_id),
        claim_case_id=claim_id,
        applicant_key=key,
        region_code=region,
        person=PaymentDetails(
            id_number=number,
            name=person["name"],
            phone=person["phone"],
            account_no=person["account_no"],
            bank_name=person["bank_name"],
        ),
        entitlement=entitlement(first, months),
        category=RetirementCategory.MALE if int(number[16]) % 2 else RetirementCategory.FEMALE_50,
        birth_month=YearMonth(int(number[6:10]), int(number[10:12])),
        receiving_on_2024_12_31=receiving,
        approved_at=datetime.now(UTC),
        timings=timings or PeriodTimings(),
    )


async def sleep_until(ce: CaseEnv, when: datetime) -> None:
    now = await ce.env.get_current_time()
    assert when > now, f"test clock already past {when}"
    await ce.env.sleep(when - now)


async def past_todays_release(ce: CaseEnv, first: YearMonth) -> None:
    """Months wholly past are due today and paid by today's run, released at the pay hour (09:00
    Beijing). A test started between midnight and nine, Beijing time (16:00-01:00 UTC), would wait
    for the morning, so the test server's clock is moved to just after today's release first, as
    the morning would (time-skipping only; a no-op after nine)."""
    if not ce.env.supports_time_skipping:
        return
    now = await ce.env.get_current_time()
    today = local_date(now)
    if first >= YearMonth.of(today):
        return
    release = datetime.combine(today, time(PaydaySettings().pay_hour), BUSINESS_TZ) + timedelta(minutes=1)
    if now < release:
        await ce.env.sleep(release - now)


async def start_period(ce: CaseEnv, inp: BenefitPeriodInput) -> WorkflowHandle[BenefitPeriodWorkflow, Any]:
    # A period paying in FUTURE_YEAR starts on 1 December before it, as one approved then would:
    # FUTURE_YEAR can be 11 years ahead of the clock (tests/clock.py), farther than the test
    # server lets a workflow run.
    if inp.entitlement.schedule[0].pay_month.year >= FUTURE_YEAR:
        start = datetime(FUTURE_YEAR - 1, 12, 1, 9, 0, tzinfo=BUSINESS_TZ)
        now = await ce.env.get_current_time()
        if start > now:
            await ce.env.sleep(start - now)
    else:
        await past_todays_release(ce, inp.entitlement.schedule[0].pay_month)
    return await ce.env.client.start_workflow(
        BenefitPeriodWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("benefit_period", inp.region_code, "active"),
        execution_timeout=timedelta(days=4 * 365),
    )


async def period_state(h: WorkflowHandle[BenefitPeriodWorkflow, Any]) -> PeriodState:
    return await h.query(BenefitPeriodWorkflow.state_query)


async def wait_period(
    h: WorkflowHandle[BenefitPeriodWorkflow, Any], status: PeriodStatus, limit: float = WAIT_S
) -> PeriodState:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        s = await period_state(h)
        if s.status == status:
            return s
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"status stayed {s.status} (wanted {status}); {[e.what for e in s.timeline]}"
            )
        await asyncio.sleep(0.05)


async def bank_ledger(sim: SimHandle) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await c.get("/admin/bank/ledger")
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]


def ledger_for(ledger: dict[str, Any], case_id: str) -> dict[str, int]:
    """Payments per idempotency key for one case's orders."""
    return {k: n for k, n in ledger["payments_per_key"].items() if k.startswith(f"benefit:{case_id}:")}


async def sim_messages(sim: SimHandle, case_id: str, *, wait_for: str | None = None) -> list[dict[str, Any]]:
    """Messages the simulated notifier received for a case; with ``wait_for``, poll briefly until
    one of that template has arrived."""
    msgs: list[dict[str, Any]] = []
    for _ in polls():
        async with httpx.AsyncClient(base_url=sim.base_url) as c:
            r = await c.get("/admin/notifier/messages", params={"case_ref": case_id})
            r.raise_for_status()
            msgs = r.json()["messages"]
        if wait_for is None or any(m["template"] == wait_for for m in msgs):
            return msgs
        await asyncio.sleep(0.05)
    return msgs


def new_account_number(prefix: str = "621700") -> str:
    body = prefix + uuid.uuid4().int.__str__()[:12]
    return body + luhn_digit(body)


def params_of(settings: Settings) -> Any:
    return parameters_in_force(settings.params_dir)
