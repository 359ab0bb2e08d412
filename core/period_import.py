"""Legacy recipients brought in as benefit periods (``uiflow import periods FILE``; issue 14).

Why: people already receiving 失业保险金 in the legacy system on the day uiflow takes over (the
notice's item 三 is about exactly them: "正在领取失业保险金（含续发）") must go on being paid from
the right month, with what was paid before, their 续发 status and whether they were receiving on
2024-12-31. The file is checked whole before anything starts: every bad row is reported with its
line and reason, and nothing starts until the file is clean. Starting is idempotent: one period per
person with a fixed workflow id (``legacy_period_id``), rejected as a duplicate on a second run,
and a ``period_import`` row per person (primary key: the applicant key); the one-benefit rule
(``core/benefits.py``) refuses a person who already has another claim or period.

The columns are documented in docs/import.md. Personal data stays in the encrypted workflow input
and the sealed payee row, never in ids, logs or the report (which names lines, not people)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from core import audit
from core.applicant import applicant_key
from core.benefits import current_benefit_of, district_name
from core.db import Database
from core.settings import Settings
from models import search_attributes as sa
from models.benefit import (
    BenefitPeriodInput,
    ImportedHistory,
    NearRetirementView,
    PaymentDetails,
    legacy_period_id,
)
from models.claim import ClaimEntitlement, MonthlyAmount
from models.enums import CaseType
from models.person import ACCOUNT_RE, PHONE_RE
from models.rules import InvalidYearMonth, NearRetirementOutcome, RetirementCategory, YearMonth
from models.tables import CaseRecord, PeriodImport
from policy import entitlement
from policy.errors import PolicyError
from policy.identity import IdentityError, parse_resident_id
from policy.money import parse_amount
from policy.near_retirement import receiving_on
from policy.parameters import ParameterSet
from policy.regions import RegionError, ancestors, get_region
from policy.retirement import retirement

COLUMNS = (
    "id_number",
    "name",
    "phone",
    "bank_account",
    "bank_name",
    "region_code",
    "retirement_category",
    "benefit_start",
    "ordinary_months",
    "months_paid",
    "paid_total",
    "continuation",
    "continuation_through",
    "receiving_on_2024_12_31",
)
OPTIONAL = ("cumulative_contribution_months",)
YES = {"yes", "y", "true", "1", "是"}
NO = {"no", "n", "false", "0", "否"}
CONTINUATION = {
    "none": "none",
    "": "none",
    "无": "none",
    "continuation": "continuation",
    "续发": "continuation",
}
CONTINUATION |= {"transitional": "transitional", "过渡": "transitional", "过渡期": "transitional"}
DEC_2024 = date(2024, 12, 31)
PERIOD_WORKFLOW = "BenefitPeriodWorkflow"  # by name: core does not import workflows/


def _search_attributes(region: str) -> TypedSearchAttributes:
    """As ``workflows.base.initial_search_attributes`` gives a period started by a claim."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.CASE_TYPE, CaseType.BENEFIT_PERIOD.value),
            SearchAttributePair(sa.REGION_CODE, region),
            SearchAttributePair(sa.REGION_PATH, [region, *[r.code for r in ancestors(region)]]),
            SearchAttributePair(sa.CASE_STATUS, "active"),
            SearchAttributePair(sa.OVERDUE, False),
        ]
    )


@dataclass(frozen=True)
class RowError:
    line: int
    reason_zh: str


@dataclass
class ImportPlan:
    """The file checked: the periods to start (in file order) or every bad row."""

    sha256: str
    rows: int
    periods: list[tuple[int, BenefitPeriodInput]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportResult:
    started: int = 0
    already: int = 0
    case_ids: list[str] = field(default_factory=list)


class _Bad(Exception):
    def __init__(self, reason_zh: str) -> None:
        super().__init__(reason_zh)
        self.reason_zh = reason_zh


def _int(raw: str, what: str, lo: int, hi: int) -> int:
    try:
        v = int(raw.strip())
    except ValueError:
        raise _Bad(f"{what}应为整数：{raw!r}") from None
    if not lo <= v <= hi:
        raise _Bad(f"{what}应在{lo}至{hi}之间：{v}")
    return v


def _ym(raw: str, what: str) -> YearMonth:
    try:
        return YearMonth.parse(raw.strip())
    except InvalidYearMonth:
        raise _Bad(f"{what}应为YYYY-MM：{raw!r}") from None


def _row(
    rec: dict[str, str], line: int, *, sha: str, settings: Settings, params: ParameterSet, today: date
) -> BenefitPeriodInput:
    """One row to a period's start input, or ``_Bad`` with the first reason it fails."""
    try:
        rid = parse_resident_id(rec["id_number"], today=today)
    except IdentityError as e:
        raise _Bad(f"身份证号码不正确：{e.message_zh}") from None
    name = rec["name"].strip()
    if not 1 <= len(name) <= 64:
        raise _Bad("姓名不能为空，且不超过64个字")
    phone = rec["phone"].strip()
    if not PHONE_RE.match(phone):
        raise _Bad("手机号码应为11位，以1开头")
    account = rec["bank_account"].replace(" ", "")
    if not ACCOUNT_RE.match(account):
        raise _Bad("银行账号应为12至30位数字")
    try:
        region = get_region(rec["region_code"].strip())
    except RegionError as e:
        raise _Bad(f"行政区划代码不正确：{e.message_zh}") from None
    if region.level != "county":
        raise _Bad(f"领金地应为旗县区一级的行政区划：{region.code}")
    try:
        category = RetirementCategory(rec["retirement_category"].strip())
    except ValueError:
        raise _Bad("原法定退休年龄类别应为 male、female-55 或 female-50（不按性别推定）") from None
    try:
        start = date.fromisoformat(rec["benefit_start"].strip())
    except ValueError:
        raise _Bad(f"领金起始日期应为YYYY-MM-DD：{rec['benefit_start']!r}") from None
    if start > today:
        raise _Bad("领金起始日期晚于今天")
    ordinary = _int(rec["ordinary_months"], "核定领取月数", 1, 24)
    paid = _int(rec["months_paid"], "已发放月数", 0, 600)
    try:
        total_paid = parse_amount(rec["paid_total"].strip(), field="已发放金额")
    except PolicyError as e:
        raise _Bad(e.message_zh) from None
    cont = CONTINUATION.get(rec["continuation"].strip().lower())
    if cont is None:
        raise _Bad("续发状态应为 none、continuation（续发）或 transitional（过渡期发放）")
    flag = rec["receiving_on_2024_12_31"].strip().lower()
    if flag not in YES | NO:
        raise _Bad("2024年12月31日是否正在领取应为 yes 或 no")
    receiving = flag in YES
    first = YearMonth(start.year, start.month)
    last_ordinary = first + (ordinary - 1)
    through_raw = rec["continuation_through"].strip()
    through: YearMonth | None = None
    if cont == "none":
        if through_raw:
            raise _Bad("未续发的人员不应填写续发截止月份")
        last = last_ordinary
    else:
        if not through_raw:
            raise _Bad("续发或过渡期发放须填写截止月份")
        through = _ym(through_raw, "续发截止月份")
        if through <= last_ordinary:
            raise _Bad("续发截止月份应晚于核定期限的最后一个月")
        last = through
    total_months = last - first + 1
    if paid > total_months:
        raise _Bad(f"已发放月数（{paid}）超过可领取月数（{total_months}）")
    if paid == total_months:
        raise _Bad("已全部发放，没有待发月份，无需导入")
    paid_months = [first + i for i in range(paid)]
    if receiving_on(DEC_2024, paid_months) is not receiving:
        raise _Bad(
            "“2024年12月31日正在领取”与已发放月份不符（指已发放2024年12月的失业保险金，含续发）："
            + ("已发放月份不含2024年12月" if receiving else "已发放月份包含2024年12月")
        )
    cum_raw = (rec.get("cumulative_contribution_months") or "").strip()
    cumulative = _int(cum_raw, "累计缴费月数", 0, 1200) if cum_raw else None
    birth = YearMonth(rid.birth.year, rid.birth.month)
    try:
        schedule = [
            MonthlyAmount(
                month_index=i,
                pay_month=first + (i - 1),
                amount=(a := entitlement.benefit_amount(i, first + (i - 1), params)).amount,
                rate=a.rate,
                base=a.base,
            )
            for i in range(paid + 1, total_months + 1)
        ]
        nr = _near_retirement(cont, category, birth, last_ordinary, through, receiving, params)
    except PolicyError as e:
        raise _Bad(e.message_zh) from None
    key = applicant_key(settings, rid.number)
    case_id = legacy_period_id(region.code, key)
    ent = ClaimEntitlement(
        max_months=ordinary,
        new_months=ordinary,
        carried_months=0,
        benefit_start=start,
        first_month=first,
        last_month=last_ordinary,
        schedule=schedule,
        total=sum((m.amount for m in schedule), Decimal("0")),
        parameter_version=params.version,
        cumulative_contribution_months=cumulative,
    )
    return BenefitPeriodInput(
        case_id=case_id,
        claim_case_id=f"legacy-{region.code}-{key}",
        applicant_key=key,
        region_code=region.code,
        person=PaymentDetails(
            id_number=rid.number,
            name=name,
            phone=phone,
            account_no=account,
            bank_name=rec["bank_name"].strip(),
        ),
        entitlement=ent,
        category=category,
        birth_month=birth,
        receiving_on_2024_12_31=receiving,
        approved_at=datetime.combine(start, datetime.min.time(), UTC),
        imported=ImportedHistory(
            source_sha256=sha,
            line=line,
            ordinary_months=ordinary,
            months_paid=paid,
            paid_through=paid_months[-1] if paid_months else None,
            total_paid=total_paid,
            continuation=cont,  # type: ignore[arg-type]
            continuation_through=through,
            near_retirement=nr,
        ),
    )


def _near_retirement(
    cont: str,
    category: RetirementCategory,
    birth: YearMonth,
    expiry: YearMonth,
    through: YearMonth | None,
    receiving: bool,
    params: ParameterSet,
) -> NearRetirementView | None:
    """The extension the legacy system granted, as the period records it (not assessed again)."""
    if cont == "none" or through is None:
        return None
    r = retirement(category, birth, params)
    limit = r.retirement_month if cont == "continuation" else r.original_retirement_month
    if through > limit:
        what = "法定退休年龄" if cont == "continuation" else "原法定退休年龄"
        raise _Bad(f"续发截止月份（{through}）晚于{what}到达的月份（{limit}）")
    outcome = (
        NearRetirementOutcome.CONTINUE_TO_RETIREMENT
        if cont == "continuation"
        else NearRetirementOutcome.TRANSITIONAL_TO_ORIGINAL_RETIREMENT
    )
    return NearRetirementView(
        expiry=expiry,
        outcome=outcome,
        pay_through=through,
        requires_application=cont == "transitional",
        retirement_month=r.retirement_month,
        original_retirement_month=r.original_retirement_month,
        months_to_retirement=r.retirement_month - expiry,
        months_to_original_retirement=r.original_retirement_month - expiry,
        pension_support_from=None,
        pension_support_through=None,
        receiving_on_2024_12_31=receiving,
        parameter_version=params.version,
    )


def plan_import(data: bytes, *, settings: Settings, params: ParameterSet, today: date) -> ImportPlan:
    """Check the whole file (UTF-8 CSV with a header row; docs/import.md). Pure: no database."""
    sha = hashlib.sha256(data).hexdigest()
    plan = ImportPlan(sha256=sha, rows=0)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        plan.errors.append(RowError(1, "文件应为UTF-8编码的CSV"))
        return plan
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        plan.errors.append(RowError(1, f"表头缺少列：{'、'.join(missing)}"))
        return plan
    unknown = [c for c in header if c not in COLUMNS and c not in OPTIONAL]
    if unknown:
        plan.errors.append(RowError(1, f"表头有未知列：{'、'.join(unknown)}"))
        return plan
    seen: dict[str, int] = {}
    for rec in reader:
        line = reader.line_num
        plan.rows += 1
        clean = {k.strip(): (v or "") for k, v in rec.items() if k is not None}
        if None in rec:
            plan.errors.append(RowError(line, "列数多于表头"))
            continue
        try:
            inp = _row(clean, line, sha=sha, settings=settings, params=params, today=today)
        except _Bad as e:
            plan.errors.append(RowError(line, e.reason_zh))
            continue
        if inp.applicant_key in seen:
            plan.errors.append(RowError(line, f"与第{seen[inp.applicant_key]}行是同一人（身份证号码重复）"))
            continue
        seen[inp.applicant_key] = line
        plan.periods.append((line, inp))
    if plan.rows == 0 and not plan.errors:
        plan.errors.append(RowError(1, "文件没有数据行"))
    return plan


async def check_conflicts(db: Database, plan: ImportPlan) -> None:
    """The one-benefit rule, before anything starts: a person with another open claim or period
    anywhere in the region is a bad row (their own imported period, from an earlier run, is not)."""
    async with db.session() as s:
        for line, inp in plan.periods:
            held = await current_benefit_of(s, inp.applicant_key)
            if held is not None and held.case_id != inp.case_id:
                kind = "领金案件" if held.case_type == CaseType.BENEFIT_PERIOD.value else "申领案件"
                plan.errors.append(
                    RowError(
                        line,
                        f"该人员在{district_name(held.region_code)}已有未办结的{kind}，同一时间只能领取一份",
                    )
                )
    plan.errors.sort(key=lambda e: e.line)


async def _settled(db: Database, case_id: str, limit: float) -> None:
    """Wait until the period has projected itself (its read-model row exists)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while loop.time() < end:
        async with db.session() as s:
            if await s.get(CaseRecord, case_id) is not None:
                return
        await asyncio.sleep(0.2)


async def start_periods(
    client: Client,
    db: Database,
    settings: Settings,
    plan: ImportPlan,
    *,
    by: str,
    progress: Callable[[int], None] = lambda _n: None,
    concurrency: int = 16,
    settle_seconds: float = 120.0,
) -> ImportResult:
    """Start one period per row of a clean plan. Idempotent: a person already imported (the
    ``period_import`` row, or the workflow id already used) is counted, not started again.

    Back-pressure: at most ``concurrency`` new periods are in flight at once; a slot is freed when
    the period's first projection is in the read model (or after ``settle_seconds``). Starting a
    thousand periods at once made the worker time out on the embedded SQLite database (every
    period writes its schedule rows at start), so the import goes at the worker's pace."""
    assert not plan.errors, "a plan with bad rows starts nothing"
    async with db.session() as s:
        done = set((await s.exec(select(PeriodImport.applicant_key))).all())
    result = ImportResult()
    sem = asyncio.Semaphore(concurrency)
    dialect = postgresql if db.dialect == "postgresql" else sqlite

    async def one(line: int, inp: BenefitPeriodInput) -> None:
        if inp.applicant_key in done:
            result.already += 1
            progress(1)
            return
        async with sem:
            try:
                await client.start_workflow(
                    PERIOD_WORKFLOW,
                    inp,
                    id=inp.case_id,
                    task_queue=settings.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=_search_attributes(inp.region_code),
                )
                result.started += 1
                result.case_ids.append(inp.case_id)
                await _settled(db, inp.case_id, settle_seconds)
            except WorkflowAlreadyStartedError:
                result.already += 1
            async with db.session() as s:
                await s.exec(  # type: ignore[call-overload]
                    dialect.insert(PeriodImport.__table__)  # type: ignore[attr-defined]
                    .values(
                        applicant_key=inp.applicant_key,
                        case_id=inp.case_id,
                        region_code=inp.region_code,
                        source_sha256=plan.sha256,
                        line=line,
                        imported_by=by,
                        imported_at=datetime.now(UTC),
                    )
                    .on_conflict_do_nothing()
                )
                await s.commit()
        progress(1)

    await asyncio.gather(*(one(line, inp) for line, inp in plan.periods))
    async with db.session() as s:
        await audit.append(
            s,
            actor=by,
            action="periods.imported",
            actor_role="ops_engineer",
            payload={"sha256": plan.sha256, "rows": plan.rows, "started": result.started},
            detail={
                "sha256": plan.sha256,
                "rows": plan.rows,
                "started": result.started,
                "already": result.already,
            },
        )
        await s.commit()
    return result
