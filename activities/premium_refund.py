"""Activities of the medical-premium refund (医保费返还, notice item 4): when the person may apply,
which benefit months failed for a refundable reason (the pay day's ``premium_month`` rows), what
the medical-insurance system holds as self-paid (real HTTP), the month-by-month amounts
(``policy.refund``), the ledger that refunds a month once, and the one payment. Also the year-end
run and the months paid late once an operator enters a missing standard.

Every write is keyed: the ledger by (person, month), the payment by ``premium-refund:<case>``, a
late premium by the key it would have had on its pay day, each notice by its own key."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gov import ExternalRefused, GovClients
from activities.gov.medical import PremiumItem
from activities.pay_once import pay_once
from activities.payments import BASIC_STANDARD, STANDARD_MISSING, SUPPLEMENTARY_STANDARD, standard
from core.db import Database
from core.param_confirmation import UNCONFIRMED, Confirmed, awaiting, confirmations
from core.parameters import parameters_in_force
from core.sealed import Sealer
from core.settings import Settings
from models.benefit import PaymentDetails
from models.case import local_date
from models.enums import CaseType
from models.premium_refund import (
    ORDER_KIND,
    AssessRefundRequest,
    FailedMonth,
    FailedMonthsQuery,
    LedgerRequest,
    MissingStandardRequest,
    MissingStandardResult,
    PayRefundRequest,
    RefundAssessment,
    RefundLineView,
    RefundPayment,
    RefundWindow,
    SelfPayment,
    SelfPaymentsQuery,
    WindowQuery,
    YearEndDistrict,
    YearEndReport,
    YearEndRequest,
    payment_key,
)
from models.rules import YearMonth
from models.tables import CaseRecord, Payee, PremiumMonth, PremiumRefundLine
from policy.errors import PolicyError
from policy.parameters import ParameterSet
from policy.refund import RefundLine, last_ended_year, premium_refund_by_month, year_end_window
from policy.regions import ancestors


def refundable_reasons(params: ParameterSet, as_of: date) -> set[str]:
    text = str(params.value("refund.refundable_reasons", as_of))
    return {c.strip() for c in text.split(",") if c.strip()}


def _months(rows: list[YearMonth]) -> list[str]:
    return [str(m) for m in rows]


def district_of(region_code: str) -> str:
    """The league or city a district belongs to (the supervisors' report groups by it)."""
    chain = [region_code, *[r.code for r in ancestors(region_code)]]
    return chain[-2] if len(chain) >= 2 else region_code


class PremiumRefundActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov
        self.sealer = Sealer(settings)

    # --- the case's checks ----------------------------------------------------------------------

    @activity.defn
    async def refund_window(self, q: WindowQuery) -> RefundWindow:
        """Whether the person may apply now (and the review limits in force that day)."""
        params = parameters_in_force(self.settings.params_dir)
        w = await self._window(q, params)
        w.review_working_days = params.integer("refund.review_working_days", q.applied_on)
        w.reminder_working_days = params.integer("refund.reminder_working_days", q.applied_on)
        return w

    async def _window(self, q: WindowQuery, params: ParameterSet) -> RefundWindow:
        """After the contribution year ends (dated parameter), or after his benefit period ends;
        otherwise the date from which he may."""
        try:
            if q.basis == "year_end":
                year = q.year if q.year is not None else last_ended_year(q.applied_on, params)
                w = year_end_window(year, params)
                if q.applied_on < w.apply_from:
                    return RefundWindow(
                        open=False,
                        apply_from=w.apply_from,
                        apply_until=w.apply_until,
                        reason_zh=f"{year}年度医保缴费年度尚未结束，请于{w.apply_from.isoformat()}起申请",
                    )
                return RefundWindow(
                    open=True, apply_from=w.apply_from, apply_until=w.apply_until, months=list(w.months)
                )
        except PolicyError as e:
            raise ApplicationError(e.message_zh, type=e.code, non_retryable=True) from e
        async with self.db.session() as s:
            periods = (
                await s.exec(
                    select(CaseRecord)
                    .where(
                        CaseRecord.applicant_key == q.applicant_key,
                        CaseRecord.case_type == CaseType.BENEFIT_PERIOD.value,
                    )
                    .order_by(col(CaseRecord.received_at).desc())
                )
            ).all()
            if not periods:
                return RefundWindow(open=False, reason_zh="未查询到您领取失业保险金的记录")
            period = periods[0]
            rows = (await s.exec(select(PremiumMonth).where(PremiumMonth.case_id == period.case_id))).all()
        months = sorted({YearMonth.parse(r.month) for r in rows})
        if period.status != "closed":
            schedule = [YearMonth.parse(x["month"]) for x in (period.summary or {}).get("schedule", [])]
            last = max(schedule) if schedule else None
            apply_from = (last + 1).first_day() if last else None
            when = f"，预计可于{apply_from.isoformat()}起申请" if apply_from else ""
            return RefundWindow(
                open=False,
                apply_from=apply_from,
                period_id=period.case_id,
                reason_zh=f"您的失业保险金领取期尚未结束{when}；也可在医保缴费年度结束后申请当年的返还",
            )
        ended = local_date(period.closed_at or period.updated_at)
        window = params.integer("refund.application_window_months", ended)
        until = (YearMonth.of(ended) + window + 1).first_day() - timedelta(days=1)
        return RefundWindow(
            open=True, apply_from=ended, apply_until=until, months=months, period_id=period.case_id
        )

    @activity.defn
    async def failed_premium_months(self, q: FailedMonthsQuery) -> list[FailedMonth]:
        """The person's benefit months in scope whose on-behalf payment failed, each marked
        refundable or not (``refund.refundable_reasons``) and with the case that already refunded
        it, if any. A month paid on his behalf is never listed."""
        params = parameters_in_force(self.settings.params_dir)
        wanted = _months(q.months)
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(PremiumMonth).where(
                        PremiumMonth.applicant_key == q.applicant_key,
                        col(PremiumMonth.month).in_(wanted),
                    )
                )
            ).all()
            ledger = (
                await s.exec(
                    select(PremiumRefundLine).where(
                        PremiumRefundLine.applicant_key == q.applicant_key,
                        col(PremiumRefundLine.month).in_(wanted),
                    )
                )
            ).all()
        paid = {r.month for r in rows if r.status == "paid"}
        refunded = {r.month: r.case_id for r in ledger}
        out: list[FailedMonth] = []
        for r in sorted(rows, key=lambda x: x.month):
            if r.status == "paid" or r.month in paid:
                continue
            month = YearMonth.parse(r.month)
            out.append(
                FailedMonth(
                    month=month,
                    period_id=r.case_id,
                    reason_code=r.reason_code,
                    reason_zh=r.reason_zh,
                    refundable=r.reason_code in refundable_reasons(params, month.first_day()),
                    refunded_by=refunded.get(r.month),
                )
            )
        return out

    @activity.defn
    async def self_payments(self, q: SelfPaymentsQuery) -> list[SelfPayment]:
        """What the medical-insurance system holds as paid by the person himself (real HTTP)."""
        if not q.months:
            return []
        try:
            got = await self.gov.medical.self_payments(q.id_number, _months(q.months))
        except ExternalRefused as e:
            if e.status_code == 404:
                return []
            raise ApplicationError(str(e), type=f"ExternalRefused:{e.system}", non_retryable=True) from e
        return [
            SelfPayment(month=YearMonth.parse(p.month), amount=p.amount, receipt_no=p.receipt_no)
            for p in got.payments
        ]

    @activity.defn
    async def assess_refund(self, req: AssessRefundRequest) -> RefundAssessment:
        """Month by month: min(self-paid per the medical system, the standard of that month) for
        refundable failed months not yet refunded; the claimed amounts compared with the record."""
        params = parameters_in_force(self.settings.params_dir)
        failed = {f.month: f for f in req.failed}
        recorded = {p.month: p.amount for p in req.self_paid}
        claimed = {c.month: c.amount for c in req.claimed}
        lines: list[RefundLineView] = []
        differences = 0
        for month in sorted(set(req.months) | set(claimed)):
            f = failed.get(month)
            paid = recorded.get(month)
            c = claimed.get(month)
            if f is None and c is None:
                continue
            view = RefundLineView(month=month, claimed=c, recorded=paid)
            notes: list[str] = []
            if c is not None and paid is not None and c != paid:
                differences += 1
                notes.append(f"申报{c}元，医保系统记录{paid}元，按系统记录核算")
            elif c is not None and paid is None:
                differences += 1
                notes.append(f"申报{c}元，医保系统无个人缴费记录")
            if month not in req.months:
                notes.append("该月不在本次可申请的月份内")
            elif f is None:
                notes.append("该月经办机构已代缴或不在领金期间，不予返还")
            elif not f.refundable:
                notes.append(f"该月未能代缴的原因（{f.reason_zh or f.reason_code}）不属于可返还情形")
            elif f.refunded_by is not None:
                notes.append("该月已返还，不再重复返还")
            elif paid is not None:
                std = standard(params, BASIC_STANDARD, month)
                if std is None:
                    notes.append("该月代缴标准尚未录入，暂不能核算")
                else:
                    r = premium_refund_by_month([RefundLine(month, paid, std)], {month})
                    view.standard, view.refund = std, r.total
            view.note_zh = "；".join(notes)
            lines.append(view)
        total = sum((x.refund for x in lines), Decimal("0"))
        return RefundAssessment(
            lines=lines, total=total, differences=differences, parameter_version=params.version
        )

    # --- ledger and payment ------------------------------------------------------------------------

    @activity.defn
    async def record_refund(self, req: LedgerRequest) -> list[RefundLineView]:
        """One ledger row per month with an amount, under the unique (person, month) key. A month
        already held by another case is dropped (never refunded twice); a retry finds its own rows.
        Returns the months this case refunds."""
        now = datetime.now(UTC)
        kept: list[RefundLineView] = []
        async with self.db.session() as s:
            for line in req.lines:
                if line.refund <= 0:
                    continue
                existing = (
                    await s.exec(
                        select(PremiumRefundLine).where(
                            PremiumRefundLine.applicant_key == req.applicant_key,
                            PremiumRefundLine.month == str(line.month),
                        )
                    )
                ).first()
                if existing is None:
                    s.add(
                        PremiumRefundLine(
                            applicant_key=req.applicant_key,
                            month=str(line.month),
                            case_id=req.case_id,
                            region_code=req.region_code,
                            self_paid=line.recorded or Decimal("0"),
                            standard=line.standard or Decimal("0"),
                            amount=line.refund,
                            created_at=now,
                        )
                    )
                    try:
                        await s.commit()
                    except IntegrityError:
                        await s.rollback()
                        continue  # another case took the month between the read and the write
                    kept.append(line)
                elif existing.case_id == req.case_id:
                    kept.append(line.model_copy(update={"refund": existing.amount}))
        return kept

    @activity.defn
    async def pay_refund(self, req: PayRefundRequest) -> RefundPayment:
        """The one payment under ``premium-refund:<case>`` (``activities.pay_once``)."""
        p = await pay_once(
            self.db, self.gov, req, key=payment_key(req.case_id), kind=ORDER_KIND, purpose_zh="医保费返还"
        )
        return RefundPayment(key=p.key, amount=p.amount, bank_ref=p.bank_ref, paid_at=p.paid_at)

    # --- the year-end run ------------------------------------------------------------------------

    @activity.defn
    async def year_end_run(self, req: YearEndRequest) -> YearEndReport:
        """Everyone with refundable failed months in the contribution year that ended, not yet
        refunded: each is told what he may claim, where, with what and until when (one keyed notice
        per person and year); the supervisors get the figures by district."""
        params = parameters_in_force(self.settings.params_dir)
        try:
            year = req.year if req.year is not None else last_ended_year(req.as_of, params)
            w = year_end_window(year, params)
        except PolicyError as e:
            raise ApplicationError(e.message_zh, type=e.code, non_retryable=True) from e
        report = await refundable_by_person(self.db, params, w.months)
        people = await self._payees(sorted({case for _, _, case, _, _ in report}))
        districts: dict[str, YearEndDistrict] = {}
        msgs: list[dict[str, object]] = []
        for key, region, case_id, months, estimate in report:
            d = districts.setdefault(
                district_of(region),
                YearEndDistrict(region_code=district_of(region), people=0, months=0, estimate=Decimal("0")),
            )
            d.people, d.months, d.estimate = d.people + 1, d.months + len(months), d.estimate + estimate
            p = people.get(case_id)
            if p is None:
                continue
            which = "、".join(f"{m.year}年{m.month}月" for m in months)
            msgs.append(
                {
                    "channel": "sms",
                    "recipient": p.phone,
                    "template": "premium_refund_invitation",
                    "text_zh": (
                        f"{p.name}您好：您领取失业保险金期间{which}的职工医疗保险费未能由失业保险基金代缴，"
                        f"您以灵活就业人员身份自行缴纳的部分可申请返还（每月不超过当地代缴标准）。"
                        f"请于{w.apply_from.isoformat()}至{w.apply_until.isoformat()}期间，"
                        "携带本人身份证、医保缴费凭证和本人银行卡到经办窗口申请，或通过网上办事大厅申请。"
                    ),
                    "case_ref": case_id,
                    "idempotency_key": f"notice:premium_refund_invitation:{year}:{key}",
                }
            )
        notified = 0
        for i in range(0, len(msgs), 500):
            activity.heartbeat(i)
            notified += await self.gov.notifier.send_batch(msgs[i : i + 500])
        return YearEndReport(
            year=year,
            apply_until=w.apply_until,
            people=len(report),
            months=sum(len(m) for _, _, _, m, _ in report),
            estimate=sum((e for *_, e in report), Decimal("0")),
            districts=sorted(districts.values(), key=lambda d: d.region_code),
            notified=notified,
        )

    # --- a standard entered late ------------------------------------------------------------------

    @activity.defn
    async def pay_missing_standard(self, req: MissingStandardRequest) -> MissingStandardResult:
        """Months that failed as "standard missing" are paid on the person's behalf now that the
        standard is entered: each under the key it would have had on its pay day (the medical system
        answers a repeat with the first outcome), back to ``medical.backfill_months``; the person
        is told once per month."""
        params = parameters_in_force(self.settings.params_dir)
        back = params.integer("medical.backfill_months", req.as_of)
        oldest = YearMonth.of(req.as_of) - back
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(PremiumMonth).where(
                        PremiumMonth.status == "failed", col(PremiumMonth.reason_code).in_(HELD_REASONS)
                    )
                )
            ).all()
            # A month held for an UNCONFIRMED standard waits until an operator confirms it (prod).
            confirmed = await confirmations(s) if self.settings.confirmation_required else None
        people = await self._payees(sorted({r.case_id for r in rows}))
        res = MissingStandardResult()
        for r in rows:
            activity.heartbeat(r.idempotency_key)
            month = YearMonth.parse(r.month)
            if month < oldest:
                res.beyond_limit += 1
                continue
            basic = standard(params, BASIC_STANDARD, month)
            p = people.get(r.case_id)
            if basic is None or p is None or _unconfirmed(params, confirmed, month):
                res.still_waiting += 1
                continue
            supplementary = standard(params, SUPPLEMENTARY_STANDARD, month)
            items = [PremiumItem(kind="basic_medical", amount=basic)]
            if supplementary is not None:
                items.append(PremiumItem(kind="large_amount_supplementary", amount=supplementary))
            update: dict[str, object]
            try:
                paid = await self.gov.medical.pay_premium(
                    idempotency_key=r.idempotency_key,
                    id_number=p.id_number,
                    month=r.month,
                    items=items,
                    case_ref=r.case_id,
                )
                total = sum((i.amount for i in items), Decimal("0"))
                update = {
                    "status": "paid",
                    "payment_no": paid.payment_no,
                    "total": total,
                    "basic_amount": basic,
                    "supplementary_amount": supplementary,
                    "reason_code": None,
                    "reason_zh": None,
                }
                res.paid += 1
                text = (
                    f"{p.name}您好：您{month.year}年{month.month}月的职工医疗保险费因代缴标准录入较晚未能按时代缴，"
                    f"现已由失业保险基金补缴{total}元，您无需自行缴纳。"
                )
            except ExternalRefused as e:
                update = {"reason_code": e.code, "reason_zh": e.message_zh, "basic_amount": basic}
                text = (
                    f"{p.name}您好：您{month.year}年{month.month}月的职工医疗保险费补缴未成功，原因：{e.message_zh}。"
                    "您以个人身份缴纳的职工医疗保险费，可在医保缴费年度结束后或领金期满后申请返还。"
                )
            async with self.db.session() as s:
                row = (
                    await s.exec(
                        select(PremiumMonth).where(PremiumMonth.idempotency_key == r.idempotency_key)
                    )
                ).one()
                for k, v in update.items():
                    setattr(row, k, v)
                row.updated_at = datetime.now(UTC)
                s.add(row)
                await s.commit()
            await self.gov.notifier.send_batch(
                [
                    {
                        "channel": "sms",
                        "recipient": p.phone,
                        "template": "premium_paid_late",
                        "text_zh": text,
                        "case_ref": r.case_id,
                        "idempotency_key": f"notice:premium_paid_late:{r.idempotency_key}",
                    }
                ]
            )
            res.notified += 1
        return res

    async def _payees(self, case_ids: list[str]) -> dict[str, PaymentDetails]:
        out: dict[str, PaymentDetails] = {}
        if not case_ids:
            return out
        async with self.db.session() as s:
            for i in range(0, len(case_ids), 500):
                part = case_ids[i : i + 500]
                for p in (await s.exec(select(Payee).where(col(Payee.case_id).in_(part)))).all():
                    out[p.case_id] = PaymentDetails.model_validate(self.sealer.unseal(p.sealed))
        return out


async def refundable_by_person(
    db: Database, params: ParameterSet, months: tuple[YearMonth, ...] | list[YearMonth]
) -> list[tuple[str, str, str, list[YearMonth], Decimal]]:
    """(applicant key, region, period case, months, estimate) for each person with refundable failed
    months among ``months`` not yet refunded. The estimate is the standard of each month (the most
    the refund can be; what he paid is known only when he applies)."""
    wanted = _months(list(months))
    async with db.session() as s:
        rows = (
            await s.exec(
                select(PremiumMonth).where(
                    PremiumMonth.status == "failed", col(PremiumMonth.month).in_(wanted)
                )
            )
        ).all()
        keys = sorted({r.applicant_key for r in rows})
        done: set[tuple[str, str]] = set()
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            for line in (
                await s.exec(select(PremiumRefundLine).where(col(PremiumRefundLine.applicant_key).in_(part)))
            ).all():
                done.add((line.applicant_key, line.month))
    grouped: dict[str, list[PremiumMonth]] = defaultdict(list)
    for r in rows:
        month = YearMonth.parse(r.month)
        if r.reason_code not in refundable_reasons(params, month.first_day()):
            continue
        if (r.applicant_key, r.month) in done:
            continue
        grouped[r.applicant_key].append(r)
    out: list[tuple[str, str, str, list[YearMonth], Decimal]] = []
    for key, rs in sorted(grouped.items()):
        rs.sort(key=lambda x: x.month)
        ms = [YearMonth.parse(r.month) for r in rs]
        estimate = sum((standard(params, BASIC_STANDARD, m) or Decimal("0") for m in ms), Decimal("0"))
        out.append((key, rs[-1].region_code, rs[-1].case_id, ms, estimate))
    return out


#: Why a month's premium waits for the standard: not entered, or entered but not yet confirmed by
#: an operator (prod mode); either is paid by the backfill once the standard is there and confirmed.
HELD_REASONS = (STANDARD_MISSING, UNCONFIRMED)


def _unconfirmed(params: ParameterSet, confirmed: Confirmed | None, month: YearMonth) -> bool:
    """The month's basic standard is marked UNCONFIRMED and no operator has confirmed it (only
    when confirmation is required: ``confirmed`` is None otherwise)."""
    if confirmed is None:
        return False
    try:
        return bool(awaiting([params.entry(BASIC_STANDARD, month.first_day())], confirmed))
    except PolicyError:
        return True


async def waiting_for_standard(db: Database) -> dict[str, int]:
    """How many months wait for a standard to be entered, by district (the supervisors' view)."""
    async with db.session() as s:
        rows = (
            await s.exec(
                select(PremiumMonth.region_code).where(
                    PremiumMonth.status == "failed", col(PremiumMonth.reason_code).in_(HELD_REASONS)
                )
            )
        ).all()
    out: dict[str, int] = defaultdict(int)
    for region in rows:
        out[region] += 1
    return dict(out)


ACTIVITY_CLASSES = [PremiumRefundActivities]
