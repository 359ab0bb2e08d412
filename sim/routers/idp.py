"""Stand-in for the government portal's real-name identity provider (统一身份认证), OIDC style.

What uiflow relies on, and nothing more: a discovery document, a JWKS of rotating asymmetric
keys (RS256; the previous key stays published after a rotation so tokens in flight still
verify), the authorization-code flow, and an ID token carrying the verified ID number.

The "real-name check" here is the GB 11643 checksum of the ID number the tester types (the real
provider checks it against the population register with a face or bank-card match). For tests
and ``make dev``:

    GET  /idp/authorize?client_id=uiflow&redirect_uri=...&state=...&nonce=...   a sign-in form
    GET  /idp/authorize?...&id_number=150102198005171237&name=张三               302 to redirect_uri?code=
    POST /idp/token  (grant_type=authorization_code, code, client_id)           {"id_token": ...}
    POST /idp/admin/rotate                                                      a new signing key
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jwt.algorithms import RSAAlgorithm

from sim.deps import require_id
from sim.state import SimError

router = APIRouter(prefix="/idp", tags=["idp"])

ID_TOKEN_SECONDS = 600
CODE_SECONDS = 300


@dataclass
class _Key:
    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}


@dataclass
class IdpState:
    keys: list[_Key] = field(default_factory=list)  # newest first; the first signs
    codes: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)

    def rotate(self) -> str:
        key = _Key(
            kid=secrets.token_hex(6), private=rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        self.keys = [key, *self.keys[:1]]  # the previous key stays published
        return key.kid


def _state(request: Request) -> IdpState:
    idp: IdpState | None = getattr(request.app.state, "idp", None)
    if idp is None:
        idp = IdpState()
        idp.rotate()
        request.app.state.idp = idp
    return idp


def _issuer(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/idp"


@router.get("/.well-known/openid-configuration", summary="OIDC 发现文档")
async def discovery(request: Request) -> dict[str, Any]:
    iss = _issuer(request)
    return {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/authorize",
        "token_endpoint": f"{iss}/token",
        "jwks_uri": f"{iss}/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "id_number", "name", "real_name_verified"],
    }


@router.get("/jwks", summary="签名公钥（JWKS）")
async def jwks(request: Request) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in _state(request).keys]}


_FORM = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>统一身份认证（模拟）</title>
<body><h1>统一身份认证（模拟）</h1><p>输入身份证号码完成实名认证（模拟环境只校验号码格式）。</p>
<form method="get" action="authorize">{hidden}
<label>身份证号码 <input name="id_number" maxlength="18" required></label>
<label>姓名 <input name="name" maxlength="32"></label> <button>认证并登录</button></form></body></html>"""


@router.get("/authorize", summary="实名认证并登录（授权码模式）")
async def authorize(
    request: Request,
    client_id: str,
    redirect_uri: str = "",
    state: str = "",
    nonce: str = "",
    id_number: str = "",
    name: str = "",
) -> Response:
    if not id_number:
        params = {"client_id": client_id, "redirect_uri": redirect_uri, "state": state, "nonce": nonce}
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in params.items() if v
        )
        return HTMLResponse(_FORM.format(hidden=hidden))
    number = require_id(id_number)
    code = secrets.token_urlsafe(24)
    idp = _state(request)
    claims = {"client_id": client_id, "id_number": number, "name": name.strip()[:32], "nonce": nonce}
    idp.codes[code] = (claims, time.time() + CODE_SECONDS)
    if not redirect_uri:
        return Response(json.dumps({"code": code, "state": state}), media_type="application/json")
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(
        f"{redirect_uri}{sep}{urlencode({'code': code, 'state': state})}", status_code=302
    )


@router.post("/token", summary="以授权码换取 ID Token")
async def token(
    request: Request,
    grant_type: Annotated[str, Form()],
    code: Annotated[str, Form()],
    client_id: Annotated[str, Form()],
) -> dict[str, Any]:
    idp = _state(request)
    entry = idp.codes.pop(code, None)  # single use
    if grant_type != "authorization_code" or entry is None or entry[1] < time.time():
        raise SimError(400, "invalid_grant", "授权码无效或已过期")
    claims, _ = entry
    if claims["client_id"] != client_id:
        raise SimError(400, "invalid_client", "授权码不属于该应用")
    return {
        "id_token": issue_id_token(request, claims),
        "token_type": "Bearer",
        "expires_in": ID_TOKEN_SECONDS,
    }


def issue_id_token(request: Request, claims: dict[str, Any], *, ttl: int = ID_TOKEN_SECONDS) -> str:
    idp = _state(request)
    key = idp.keys[0]
    now = int(time.time())
    sub = hashlib.sha256(f"{claims['client_id']}|{claims['id_number']}".encode()).hexdigest()[:32]
    body = {
        "iss": _issuer(request),
        "sub": sub,
        "aud": claims["client_id"],
        "iat": now,
        "exp": now + ttl,
        "id_number": claims["id_number"],
        "name": claims.get("name", ""),
        "real_name_verified": True,
    }
    if claims.get("nonce"):
        body["nonce"] = claims["nonce"]
    return jwt.encode(body, key.private, algorithm="RS256", headers={"kid": key.kid})


@router.post("/admin/rotate", summary="轮换签名密钥（测试用）")
async def rotate(request: Request) -> dict[str, str]:
    return {"kid": _state(request).rotate()}


@router.post("/admin/id-token", summary="直接签发 ID Token（测试用）")
async def direct_id_token(
    request: Request,
    id_number: Annotated[str, Form()],
    client_id: Annotated[str, Form()] = "uiflow",
    name: Annotated[str, Form()] = "",
    ttl: Annotated[int, Form()] = ID_TOKEN_SECONDS,
) -> dict[str, str]:
    claims = {"client_id": client_id, "id_number": require_id(id_number), "name": name}
    return {"id_token": issue_id_token(request, claims, ttl=ttl)}
