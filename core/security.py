"""Passwords (argon2id) and staff tokens (JWT, HS256)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.settings import Settings

_hasher = PasswordHasher()
ISSUER = "uiflow"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    login: str
    roles: list[str]
    region_code: str
    name: str
    expires_at: datetime
    applicant_key: str | None = None


class TokenError(Exception):
    def __init__(self, code: str, message_zh: str) -> None:
        super().__init__(code)
        self.code = code
        self.message_zh = message_zh


def issue_token(
    settings: Settings,
    *,
    login: str,
    roles: list[str],
    region_code: str,
    name: str,
    now: datetime | None = None,
    ttl: timedelta | None = None,
    applicant_key: str | None = None,
) -> tuple[str, datetime]:
    now = now or datetime.now(UTC)
    exp = now + (ttl or timedelta(minutes=settings.jwt_ttl_minutes))
    token = jwt.encode(
        {
            "sub": login,
            "roles": roles,
            "region": region_code,
            "name": name,
            "iat": now,
            "exp": exp,
            "iss": ISSUER,
            "akey": applicant_key,
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
    return token, exp


def decode_token(settings: Settings, token: str) -> TokenClaims:
    try:
        data = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as e:
        raise TokenError("auth.expired", "登录已过期，请重新登录") from e
    except jwt.PyJWTError as e:
        raise TokenError("auth.invalid_token", "登录凭证无效，请重新登录") from e
    return TokenClaims(
        login=str(data["sub"]),
        roles=list(data.get("roles", [])),
        region_code=str(data.get("region", "")),
        name=str(data.get("name", "")),
        expires_at=datetime.fromtimestamp(int(data["exp"]), UTC),
        applicant_key=data.get("akey"),
    )
