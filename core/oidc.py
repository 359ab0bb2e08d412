"""Verifying applicants' ID tokens from the real-name identity provider (OIDC).

An applicant is whoever the provider says they are, never whoever types an ID number. The ID
token must be signed by one of the provider's published keys (RS256 or ES256), name the
configured issuer and our client id as audience, and be unexpired. The provider's keys are read
from its discovery document's ``jwks_uri`` and cached; a token signed with a key id we have not
seen makes us re-read the JWKS once (the provider rotated); a key id still unknown after that
is remembered for ``MISSING_KID_SECONDS``, so replaying a forged key id cannot make us hammer
the provider."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from core.settings import Settings

ALGORITHMS = ["RS256", "ES256"]
JWKS_TTL_SECONDS = 600.0
MISSING_KID_SECONDS = 60.0


class OidcError(Exception):
    def __init__(self, code: str, message_zh: str) -> None:
        super().__init__(code)
        self.code = code
        self.message_zh = message_zh


@dataclass(frozen=True)
class VerifiedPerson:
    id_number: str
    name: str


class OidcVerifier:
    def __init__(self, issuer: str, client_id: str, *, timeout: float = 10.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._timeout = timeout
        self._config: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._read_at = 0.0
        self._lock = asyncio.Lock()
        self._missing: dict[str, float] = {}
        self.jwks_reads = 0  # for tests and metrics

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcVerifier:
        return cls(settings.effective_oidc_issuer, settings.applicant_oidc_client_id)

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                r = await http.get(url)
                r.raise_for_status()
                data = r.json()
        except (httpx.HTTPError, ValueError) as e:
            raise OidcError("oidc.unavailable", "统一身份认证服务暂时不可用，请稍后再试") from e
        if not isinstance(data, dict):
            raise OidcError("oidc.unavailable", "统一身份认证服务暂时不可用，请稍后再试")
        return data

    async def configuration(self) -> dict[str, Any]:
        if self._config is None:
            config = await self._get(f"{self.issuer}/.well-known/openid-configuration")
            if str(config.get("issuer", "")).rstrip("/") != self.issuer:
                raise OidcError("oidc.misconfigured", "统一身份认证服务配置不一致")
            self._config = config
        return self._config

    async def _refresh(self) -> None:
        config = await self.configuration()
        data = await self._get(str(config["jwks_uri"]))
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in data.get("keys", []):
            try:
                key = jwt.PyJWK(jwk)
            except jwt.PyJWTError:
                continue  # a key type we do not use
            if key.key_id:
                keys[key.key_id] = key
        self._keys, self._read_at = keys, time.monotonic()
        self.jwks_reads += 1

    async def _key(self, kid: str) -> jwt.PyJWK:
        async with self._lock:
            now = time.monotonic()
            recently_missing = now - self._missing.get(kid, -MISSING_KID_SECONDS) < MISSING_KID_SECONDS
            if (kid not in self._keys and not recently_missing) or now - self._read_at > JWKS_TTL_SECONDS:
                await self._refresh()
            key = self._keys.get(kid)
            if key is None:
                if len(self._missing) > 1000:
                    self._missing.clear()
                self._missing[kid] = now
        if key is None:
            raise OidcError("oidc.invalid_token", "身份认证凭证无效，请重新登录")
        return key

    async def verify(self, id_token: str) -> VerifiedPerson:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as e:
            raise OidcError("oidc.invalid_token", "身份认证凭证无效，请重新登录") from e
        if header.get("alg") not in ALGORITHMS:
            raise OidcError("oidc.invalid_token", "身份认证凭证无效，请重新登录")
        key = await self._key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                id_token,
                key,
                algorithms=ALGORITHMS,
                audience=self.client_id,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise OidcError("oidc.expired", "身份认证已过期，请重新登录") from e
        except jwt.PyJWTError as e:
            raise OidcError("oidc.invalid_token", "身份认证凭证无效，请重新登录") from e
        number = str(claims.get("id_number", "")).strip().upper()
        if not number or claims.get("real_name_verified") is not True:
            raise OidcError("oidc.not_verified", "未完成实名认证，请在统一身份认证平台完成实名认证")
        return VerifiedPerson(id_number=number, name=str(claims.get("name", "")))

    async def exchange_code(self, code: str) -> str:
        """The authorization code for the ID token, at the provider's token endpoint."""
        config = await self.configuration()
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                r = await http.post(
                    str(config["token_endpoint"]),
                    data={"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
                )
        except httpx.HTTPError as e:
            raise OidcError("oidc.unavailable", "统一身份认证服务暂时不可用，请稍后再试") from e
        if r.status_code >= 500:
            raise OidcError("oidc.unavailable", "统一身份认证服务暂时不可用，请稍后再试")
        if r.status_code != 200:
            raise OidcError("oidc.invalid_code", "登录授权码无效或已过期，请重新登录")
        token = r.json().get("id_token")
        if not isinstance(token, str):
            raise OidcError("oidc.invalid_code", "登录授权码无效或已过期，请重新登录")
        return token
