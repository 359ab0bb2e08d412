"""Slowing password guessing on every sign-in (staff API, console, employers).

Failures are counted per login and per address in ``login_throttle`` (shared by every API
process): ``MAX_LOGIN_FAILURES`` for one login or ``MAX_ADDRESS_FAILURES`` from one address within
``WINDOW`` lock that login or address for ``LOCKOUT``; a locked sign-in answers 429 whatever the
password, and each lockout and each refused attempt is audited. A success clears the login's
count (not the address's, so one valid account cannot launder guesses at others).

Why the password check runs in a thread, even for an unknown login (against a dummy hash):
argon2 is deliberately slow, so on the event loop it would stall every other request, and
skipping it for unknown logins would tell an attacker which logins exist."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import ApiError
from core import audit
from core.security import verify_password
from models.tables import LoginThrottle

MAX_LOGIN_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


def client_address(request: Request | None) -> str:
    return request.client.host if request is not None and request.client is not None else "unknown"


async def check_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists, off the event loop."""
    return await asyncio.to_thread(verify_password, password_hash, password)


@dataclass(frozen=True)
class LoginGuard:
    kind: str  # "staff" or "employer"
    login: str
    address: str

    @property
    def _login_key(self) -> str:
        return f"login:{self.kind}:{self.login[:64]}"

    @property
    def _address_key(self) -> str:
        return f"addr:{self.address[:64]}"

    def _limits(self) -> list[tuple[str, int]]:
        return [(self._login_key, MAX_LOGIN_FAILURES), (self._address_key, MAX_ADDRESS_FAILURES)]

    async def refuse_if_locked(self, session: AsyncSession) -> None:
        now = datetime.now(UTC)
        for key, _ in self._limits():
            row = await session.get(LoginThrottle, key)
            if row is not None and row.locked_until is not None and _aware(row.locked_until) > now:
                await audit.append(
                    session,
                    actor=self.login[:64],
                    action="auth.login_locked",
                    detail={"kind": self.kind, "scope": key.split(":", 1)[0]},
                )
                await session.commit()
                minutes = max(1, int((_aware(row.locked_until) - now).total_seconds() // 60) + 1)
                raise ApiError(
                    429,
                    "auth.locked",
                    f"登录失败次数过多，请{minutes}分钟后再试",
                    headers={"Retry-After": str(minutes * 60)},
                )

    async def failed(self, session: AsyncSession, action: str) -> None:
        """Count a failure (the caller's audit action names the kind of sign-in)."""
        now = datetime.now(UTC)
        locked: list[str] = []
        for key, limit in self._limits():
            row = await session.get(LoginThrottle, key)
            if row is None:
                row = LoginThrottle(key=key, failures=0, window_start=now)
                session.add(row)
            if now - _aware(row.window_start) > WINDOW:
                row.failures, row.window_start, row.locked_until = 0, now, None
            row.failures += 1
            if row.failures >= limit and row.locked_until is None:
                row.locked_until = now + LOCKOUT
                locked.append(key.split(":", 1)[0])
        await audit.append(session, actor=self.login[:64], action=action)
        for scope in locked:
            await audit.append(
                session,
                actor=self.login[:64],
                action="auth.lockout",
                detail={"kind": self.kind, "scope": scope, "minutes": int(LOCKOUT.total_seconds() // 60)},
            )
        await session.commit()

    async def succeeded(self, session: AsyncSession) -> None:
        row = await session.get(LoginThrottle, self._login_key)
        if row is not None:
            await session.delete(row)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
