"""Reference data and demo accounts: the Inner Mongolia divisions, and (dev only) a small set of
demo staff whose logins ``make dev`` prints.

Every staff member carries their own applicant key (HMAC of their ID number, never the number),
so the "own case" checks refuse a decision on a case where they are the applicant. Demo staff
get synthetic but valid ID numbers (``demo_id_number``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.applicant import applicant_key
from core.security import hash_password
from core.settings import Settings, get_settings
from models.enums import Role
from models.tables import Region, Staff
from policy.identity import make_resident_id
from policy.regions import REGION_ROOT, descendants, get_region

DEMO_PASSWORD = "uiflow-demo"

# login, name, roles, region
DEMO_STAFF: list[tuple[str, str, list[Role], str]] = [
    ("admin", "系统管理员", [Role.ADMIN], "150000"),
    ("clerk.xc", "王窗口（新城区）", [Role.INTAKE_CLERK], "150102"),
    ("reviewer.xc", "李审核（新城区）", [Role.REVIEWER], "150102"),
    ("reviewer.hhht", "赵审核（呼和浩特市）", [Role.REVIEWER], "150100"),
    ("second.hhht", "钱复审（呼和浩特市）", [Role.SECOND_REVIEWER], "150100"),
    ("final.nmg", "孙终审（自治区）", [Role.FINAL_REVIEWER], "150000"),
    ("supervisor.hhht", "周主管（呼和浩特市）", [Role.SUPERVISOR], "150100"),
    ("clerk.dh", "吴窗口（东河区）", [Role.INTAKE_CLERK], "150202"),
    ("reviewer.dh", "郑审核（东河区）", [Role.REVIEWER], "150202"),
    ("inspector.nmg", "冯稽核（自治区）", [Role.RISK_INSPECTOR], "150000"),
    ("ops.nmg", "陈运维（自治区）", [Role.OPS_ENGINEER], "150000"),
    ("auditor.nmg", "褚审计（自治区）", [Role.AUDITOR], "150000"),
]


async def seed_regions(session: AsyncSession) -> int:
    existing = set((await session.exec(select(Region.code))).all())
    added = 0
    for r in [get_region(REGION_ROOT), *descendants(REGION_ROOT)]:
        if r.code not in existing:
            session.add(
                Region(
                    code=r.code,
                    name=r.name,
                    level=r.level,
                    parent=r.parent,
                    directly_administered=r.directly_administered,
                )
            )
            added += 1
    await session.commit()
    return added


def demo_id_number(index: int) -> str:
    """A valid synthetic ID number for the ``index``-th demo staff member (born 1970, a sequence
    far above the simulated population's, so no demo applicant shares it by accident)."""
    return make_resident_id("150102", date(1970, 1, 1 + index % 28), 900 + index)


async def upsert_staff(
    session: AsyncSession,
    login: str,
    name: str,
    roles: list[Role],
    region_code: str,
    password: str,
    *,
    applicant_key: str | None = None,
) -> Staff:
    """Create the account if missing; an existing account without an applicant key gets one."""
    staff = (await session.exec(select(Staff).where(Staff.login == login))).first()
    if staff is None:
        staff = Staff(
            login=login,
            name=name,
            password_hash=hash_password(password),
            roles=[r.value for r in roles],
            region_code=region_code,
            created_at=datetime.now(UTC),
            applicant_key=applicant_key,
        )
        session.add(staff)
        await session.commit()
    elif applicant_key is not None and staff.applicant_key is None:
        staff.applicant_key = applicant_key
        session.add(staff)
        await session.commit()
    return staff


async def seed_demo_staff(session: AsyncSession, settings: Settings | None = None) -> list[str]:
    settings = settings or get_settings()
    for i, (login, name, roles, region) in enumerate(DEMO_STAFF):
        key = applicant_key(settings, demo_id_number(i))
        await upsert_staff(session, login, name, roles, region, DEMO_PASSWORD, applicant_key=key)
    return [s[0] for s in DEMO_STAFF]
