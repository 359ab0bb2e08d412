"""Demo employer accounts (dev only): former employers that sign in on the website with their
unified social credit code to apply for a stop-reason change (notice item 5). ``make dev`` seeds
the employers of the simulated population, so a demo dispute can be filed online."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from core.security import hash_password
from core.seed import DEMO_PASSWORD
from models.tables import EmployerAccount
from policy.identity import validate_credit_code
from policy.regions import REGION_ROOT, is_known_region


def _region_of(credit_code: str) -> str:
    """Characters 3–8 of a credit code are the registering authority's division: a good default
    for where the employer's cases are handled, when it is a current Inner Mongolia division."""
    region = credit_code[2:8]
    return region if is_known_region(region) else REGION_ROOT


async def seed_demo_employers(
    session: AsyncSession,
    credit_codes: Iterable[str],
    *,
    password: str = DEMO_PASSWORD,
    names: Mapping[str, str] | None = None,
    regions: Mapping[str, str] | None = None,
) -> list[str]:
    """Create an account for each credit code that has none (existing accounts are left as they
    are, so a re-run never resets a password). Returns the normalised codes, in order. Raises
    ``IdentityError`` for a malformed code: demo data must be valid too."""
    names = names or {}
    regions = regions or {}
    out: list[str] = []
    for raw in credit_codes:
        code = validate_credit_code(raw)
        if code in out:
            continue
        out.append(code)
        if await session.get(EmployerAccount, code) is not None:
            continue
        session.add(
            EmployerAccount(
                credit_code=code,
                name=names.get(code) or names.get(raw) or f"演示用人单位{code[-6:]}",
                password_hash=hash_password(password),
                region_code=regions.get(code) or regions.get(raw) or _region_of(code),
                created_at=datetime.now(UTC),
            )
        )
    await session.commit()
    return out
