"""Passwords (argon2id) and the API's own session tokens (JWT, HS256).

Three kinds of principal carry a token, and a token of one kind never opens a route of another:
each kind has its own audience (``uiflow-staff``, ``uiflow-employer``, ``uiflow-applicant``) and a
``kind`` claim, and ``decode_token`` is told which audiences it accepts. A staff or employer
token also carries ``ver`` (the account's token version) and ``iat``, so that deactivating an
account, changing its password or raising its version revokes every token already issued
(checked against the account row by ``api/principals.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.settings import Settings

_hasher = PasswordHasher()
ISSUER = "uiflow"


class Kind(StrEnum):
    """The kinds of principal: never interchangeable."""

    STAFF = "staff"
    EMPLOYER = "employer"
    APPLICANT = "applicant"

    @property
    def audience(self) -> str:
        return f"uiflow-{self.value}"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# Verified when the login is unknown, so an unknown login costs as much time as a wrong password
# (no timing oracle for which logins exist).
DUMMY_HASH = _hasher.hash("uiflow-no-such-account")


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
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
    kind: Kind = Kind.STAFF
    issued_at: datetime | None = None
    version: int = 0


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
    kind: Kind = Kind.STAFF,
    version: int = 0,
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
            "aud": kind.audience,
            "kind": kind.value,
            "akey": applicant_key,
            "ver": version,
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
    return token, exp


def decode_token(settings: Settings, token: str, kinds: Iterable[Kind] = (Kind.STAFF,)) -> TokenClaims:
    """Verify a token of one of ``kinds`` (staff only unless told otherwise)."""
    audiences = [k.audience for k in kinds]
    try:
        data = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            audience=audiences,
            options={"require": ["exp", "sub", "iss", "aud", "iat"]},
        )
        kind = Kind(str(data.get("kind", "")))
        if kind.audience != data["aud"]:
            raise jwt.InvalidAudienceError("kind and audience disagree")
    except jwt.ExpiredSignatureError as e:
        raise TokenError("auth.expired", "登录已过期，请重新登录") from e
    except jwt.InvalidAudienceError as e:
        raise TokenError("auth.kind", "此登录身份不能办理该业务") from e
    except (jwt.PyJWTError, ValueError) as e:
        raise TokenError("auth.invalid_token", "登录凭证无效，请重新登录") from e
    return TokenClaims(
        login=str(data["sub"]),
        roles=list(data.get("roles", [])),
        region_code=str(data.get("region", "")),
        name=str(data.get("name", "")),
        expires_at=datetime.fromtimestamp(int(data["exp"]), UTC),
        applicant_key=data.get("akey"),
        kind=kind,
        issued_at=datetime.fromtimestamp(int(data["iat"]), UTC),
        version=int(data.get("ver") or 0),
    )
