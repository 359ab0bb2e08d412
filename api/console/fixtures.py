"""Synthetic case-list rows for load checks of the console and the case list.

Why it exists: the console must stay fast with 10,000 open cases in a banner's inbox, and the
benchmarks need a realistic read model without running 10,000 workflows. The rows go straight
into ``case_record`` (the read model only: no workflow, no history, no personal data; names are
made up, ID numbers are masks, applicant keys random), with a ``syn-`` case-id prefix so they are
recognisable and removable. Never call this against a production database.

``insert_synthetic_cases(db, "150102", 10_000)`` is the entry point; ``delete_synthetic_cases``
removes them again."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, insert
from sqlmodel import col

from core.db import Database
from core.person_search import mask_name
from models.case import BUSINESS_TZ, local_date
from models.claim import CLAIM_STATUS_LABELS, ClaimStatus
from models.enums import CaseType
from models.tables import CaseRecord
from policy.regions import descendants, get_region

SYNTHETIC_PREFIX = "syn-"

_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶"
)
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅海燕鹏飞宇晨浩然思雨欣怡子涵"
_MONGOLIAN = ["乌云其其格", "巴特尔", "其木格", "额尔敦", "萨仁高娃", "苏日娜", "朝鲁", "阿拉坦仓", "宝音"]

# (case type, status, stage, share per mille). Claims dominate, as in a banner office.
_MIX: list[tuple[CaseType, str, str, int]] = [
    (CaseType.BENEFIT_CLAIM, ClaimStatus.UNDER_REVIEW.value, "review", 360),
    (CaseType.BENEFIT_CLAIM, ClaimStatus.AWAITING_DOCUMENTS.value, "awaiting_documents", 60),
    (CaseType.BENEFIT_CLAIM, ClaimStatus.AWAITING_REGISTRATION.value, "registration", 50),
    (CaseType.BENEFIT_CLAIM, ClaimStatus.CHECKING.value, "checks", 30),
    (CaseType.BENEFIT_CLAIM, ClaimStatus.REJECTED.value, "awaiting_reapplication", 90),
    (CaseType.BENEFIT_CLAIM, ClaimStatus.APPROVED.value, "approved", 200),
    (CaseType.BENEFIT_CLAIM, ClaimStatus.CLOSED.value, "closed", 40),
    (CaseType.STOP_REASON_DISPUTE, "under_review", "initial_review", 50),
    (CaseType.STOP_REASON_DISPUTE, "under_review", "second_review", 25),
    (CaseType.STOP_REASON_DISPUTE, "under_review", "final_review", 15),
    (CaseType.PREMIUM_REFUND, "under_review", "review", 40),
    (CaseType.SKILL_SUBSIDY, "under_review", "review", 40),
]
_OPEN_WITH_DEADLINE = {"review", "initial_review", "second_review", "final_review", "awaiting_documents"}
_TERMINAL = {"approved", "closed"}
_DISPUTE_LABELS = {"under_review": "审核中"}


def _label(case_type: CaseType, status: str) -> str:
    if case_type == CaseType.BENEFIT_CLAIM:
        return CLAIM_STATUS_LABELS[ClaimStatus(status)]
    return _DISPUTE_LABELS.get(status, status)


def _name(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return rng.choice(_MONGOLIAN)
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def _counties(region_code: str) -> list[str]:
    region = get_region(region_code)
    if region.level == "county":
        return [region.code]
    return [r.code for r in descendants(region.code) if r.level == "county"] or [region.code]


def synthetic_rows(
    region_code: str, n: int, *, seed: int = 0, today: date | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """``n`` read-model rows spread over the counties of ``region_code`` (deterministic per seed):
    a mix of types and statuses; open cases mostly received in the last weeks, with a ten-working-
    day deadline from receipt (so the older ones are overdue and escalated); decisions spread
    over the last two months."""
    rng = random.Random(f"{region_code}:{seed}")
    now = now or datetime.now(UTC)
    today = today or local_date(now)
    counties = _counties(region_code)
    weights = [w for *_, w in _MIX]
    rows: list[dict[str, Any]] = []
    for i in range(n):
        case_type, status, stage, _ = rng.choices(_MIX, weights)[0]
        county = counties[i % len(counties)]
        # Open cases are mostly recent (a few linger past their limit); closed ones span two months.
        back = min(int(rng.expovariate(1 / 8)), 40) if stage in _OPEN_WITH_DEADLINE else rng.randint(0, 59)
        received_day = today - timedelta(days=back)
        received_at = datetime.combine(
            received_day, time(rng.randint(8, 17), rng.randint(0, 59)), BUSINESS_TZ
        ).astimezone(UTC)
        deadline: date | None = None
        overdue = escalated = False
        if stage in _OPEN_WITH_DEADLINE:
            deadline = received_day + timedelta(days=14 + rng.randint(-1, 2))  # ~10 working days
            overdue = deadline < today
            # Overdue cases are escalated; a dispute stays marked after a late level moved on.
            escalated = overdue or (case_type == CaseType.STOP_REASON_DISPUTE and rng.random() < 0.15)
        decided_at: datetime | None = None
        summary: dict[str, Any] = {"status_label": _label(case_type, status), "synthetic": True}
        if status in ("approved", "rejected"):
            took = timedelta(days=rng.randint(1, 16), hours=rng.randint(0, 8))
            decided_at = received_at + min(took, (now - received_at) * rng.random())
            summary["decided_within_limit"] = rng.random() < 0.92
        closed_at = (decided_at or now) if stage in _TERMINAL else None
        rows.append(
            {
                "case_id": f"{SYNTHETIC_PREFIX}{county}-{seed}-{i:06d}",
                "case_type": case_type.value,
                "status": status,
                "stage": stage,
                "region_code": county,
                "applicant_key": f"{rng.getrandbits(96):024x}",
                "applicant_name": mask_name(_name(rng)),  # as the read model keeps names
                "applicant_id_masked": f"{county}********{rng.randint(0, 9999):04d}",
                "employer_credit_code": None,
                "channel": rng.choice(("counter", "online", "online")),
                "received_at": received_at,
                "deadline": deadline,
                "overdue": overdue,
                "escalated": escalated,
                "assigned_to": None,
                "rounds": 1 if status != "rejected" else rng.choice((1, 2)),
                "risk_flagged": rng.random() < 0.06,
                "blocked": rng.random() < 0.003,
                "summary": summary,
                "decided_at": decided_at,
                "closed_at": closed_at,
                "updated_at": now,
                "version": 1,
            }
        )
    return rows


async def insert_synthetic_cases(
    db: Database, region_code: str, n: int, *, seed: int = 0, batch: int = 2000
) -> int:
    """Bulk-insert ``n`` synthetic rows for ``region_code`` (a county, or a league: spread over its
    counties); returns how many were written. Re-running with the same seed collides on the case
    ids, so use another seed or ``delete_synthetic_cases`` first."""
    rows = synthetic_rows(region_code, n, seed=seed)
    async with db.engine.begin() as conn:
        for start in range(0, len(rows), batch):
            await conn.execute(insert(CaseRecord), rows[start : start + batch])
    return len(rows)


async def delete_synthetic_cases(db: Database, region_code: str | None = None) -> int:
    """Remove synthetic rows (all of them, or those under ``region_code``); returns the count."""
    stmt = delete(CaseRecord).where(col(CaseRecord.case_id).startswith(SYNTHETIC_PREFIX))
    if region_code is not None:
        codes = [get_region(region_code).code, *_counties(region_code)]
        stmt = stmt.where(col(CaseRecord.region_code).in_(codes))
    async with db.engine.begin() as conn:
        result = await conn.execute(stmt)
    return int(result.rowcount or 0)
