"""One benefit at a time, region-wide (notice: a person draws one unemployment benefit; issue 12
item 5). A person who has an open claim, or a benefit period that is paying, suspended or waiting,
anywhere in Inner Mongolia, cannot start another claim: two periods would mean two payment orders
and two bank payments a month. Moving to another district is a transfer of the one period.

Three lines of defence, each here so that the API and the activities share them:

- ``current_benefit_of``: the lookup intake calls first, for a clear refusal naming the district
  (by its Chinese name) where the open case is;
- ``reserve_claim``: intake writes the new claim's read-model row in its own transaction, before it
  starts the workflow; the unique partial index ``uq_case_open_claim`` makes the second of two
  racing intakes fail there (PostgreSQL waits for the first to commit, SQLite for its write lock);
- ``is_duplicate_benefit``: the activity that projects a case recognises the violation of
  ``uq_case_open_claim`` or ``uq_case_active_period`` and refuses with a business reason instead of
  retrying, so a second period never gets a row, and never pays (it refuses before its first month).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import and_, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.claim import OPEN_CLAIM_STATUSES, ClaimStatus
from models.enums import CaseType
from models.tables import CaseRecord
from policy.regions import RegionError, get_region

DUPLICATE_BENEFIT = "claim.duplicate_benefit"
_INDEXES = ("uq_case_open_claim", "uq_case_active_period")


async def current_benefit_of(session: AsyncSession, applicant_key: str) -> CaseRecord | None:
    """The person's open claim or active benefit period, wherever it is; None when there is none."""
    q = (
        select(CaseRecord)
        .where(
            CaseRecord.applicant_key == applicant_key,
            or_(
                and_(
                    col(CaseRecord.case_type) == CaseType.BENEFIT_CLAIM.value,
                    col(CaseRecord.status).in_(list(OPEN_CLAIM_STATUSES)),
                ),
                and_(
                    col(CaseRecord.case_type) == CaseType.BENEFIT_PERIOD.value,
                    col(CaseRecord.status) != "closed",
                ),
            ),
        )
        .order_by(col(CaseRecord.received_at))
        .limit(1)
    )
    return (await session.exec(q)).first()


def district_name(region_code: str) -> str:
    try:
        return get_region(region_code).name
    except RegionError:
        return region_code


def duplicate_benefit_message(held: CaseRecord | str) -> str:
    """The Chinese refusal, naming where the person's open case is (a case or its region code)."""
    region = held if isinstance(held, str) else held.region_code
    place = district_name(region)
    if isinstance(held, CaseRecord) and held.case_type == CaseType.BENEFIT_PERIOD.value:
        what = "正在领取失业保险金"
    else:
        what = "已有未办结的失业保险金申领"
    return (
        f"该申请人在{place}{what}，同一时间只能享受一份失业保险待遇，请勿重复申请；如已迁往他处，请办理转移。"
    )


def is_duplicate_benefit(e: IntegrityError) -> bool:
    """Whether an insert or update broke one of the one-benefit unique indexes. PostgreSQL names the
    index; SQLite names the column (the only unique constraints on ``applicant_key`` are these)."""
    text = str(e.orig)
    return any(name in text for name in _INDEXES) or "case_record.applicant_key" in text


async def reserve_claim(
    session: AsyncSession,
    *,
    case_id: str,
    applicant_key: str,
    region_code: str,
    channel: str,
    received_at: datetime,
) -> CaseRecord | None:
    """Check and hold the person's one open claim for ``case_id``; return the case that already
    holds it (then the session is rolled back), or None. The caller commits with its other writes,
    after the workflow started; the workflow's first projection then updates this row (version 0)."""
    held = await current_benefit_of(session, applicant_key)
    if held is not None:
        return held
    session.add(
        CaseRecord(
            case_id=case_id,
            case_type=CaseType.BENEFIT_CLAIM.value,
            status=ClaimStatus.CHECKING.value,
            stage="checking",
            region_code=region_code,
            applicant_key=applicant_key,
            channel=channel,
            received_at=received_at,
            updated_at=received_at,
            version=0,
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        # a racing intake holds it now (the one-open-claim index, or the same case id)
        await session.rollback()
        held = await current_benefit_of(session, applicant_key)
        return (
            held
            if held is not None
            else CaseRecord(
                case_id=case_id,
                case_type=CaseType.BENEFIT_CLAIM.value,
                status=ClaimStatus.CHECKING.value,
                region_code=region_code,
                applicant_key=applicant_key,
                received_at=received_at,
                updated_at=received_at,
            )
        )
    return None
