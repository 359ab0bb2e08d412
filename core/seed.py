"""Reference data and demo accounts: the Inner Mongolia divisions, and (dev only) a small set of
demo staff whose logins ``make dev`` prints."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.security import hash_password
from models.enums import Role
from models.tables import Region, Staff
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


async def upsert_staff(
    session: AsyncSession, login: str, name: str, roles: list[Role], region_code: str, password: str
) -> Staff:
    staff = (await session.exec(select(Staff).where(Staff.login == login))).first()
    if staff is None:
        staff = Staff(
            login=login,
            name=name,
            password_hash=hash_password(password),
            roles=[r.value for r in roles],
            region_code=region_code,
            created_at=datetime.now(UTC),
        )
        session.add(staff)
        await session.commit()
    return staff


async def seed_demo_staff(session: AsyncSession) -> list[str]:
    for login, name, roles, region in DEMO_STAFF:
        await upsert_staff(session, login, name, roles, region, DEMO_PASSWORD)
    return [s[0] for s in DEMO_STAFF]
