"""The remote codec endpoint, so authorised staff see decrypted payloads in the Temporal Web UI
and CLI (``--codec-endpoint``). Same wire format as Temporal's codec server: a JSON
``{"payloads": [...]}`` in protobuf-JSON form. Every decode is written to the audit log."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.deps import get_db, get_settings_dep
from api.errors import ApiError
from core import audit
from core.codec import CodecError
from core.db import Database
from core.security import TokenError, decode_token
from core.settings import Settings

router = APIRouter(prefix="/codec", tags=["codec"])

# Staff who may see decrypted payloads in the Temporal Web UI.
CODEC_ROLES = {"ops_engineer", "admin", "auditor", "supervisor"}


async def _payloads(request: Request) -> list[Payload]:
    try:
        msg = json_format.Parse(await request.body(), Payloads())
    except json_format.ParseError as e:
        raise ApiError(400, "codec.bad_request", "请求内容不是有效的载荷") from e
    return list(msg.payloads)


def _respond(payloads: list[Payload]) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


def _actor(request: Request, settings: Settings) -> str:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise ApiError(401, "auth.required", "请先登录")
    try:
        claims = decode_token(settings, auth[7:].strip())
    except TokenError as e:
        raise ApiError(401, e.code, e.message_zh) from e
    if not CODEC_ROLES.intersection(claims.roles):
        raise ApiError(403, "auth.role", "无权查看解密后的工作流数据")
    return claims.login


async def _run(request: Request, db: Database, actor: str, op: str) -> dict[str, Any]:
    codec = request.app.state.codec
    payloads = await _payloads(request)
    try:
        out = await (codec.encode(payloads) if op == "encode" else codec.decode(payloads))
    except CodecError as e:
        raise ApiError(422, "codec.failed", "载荷无法解密（密钥不符或数据被篡改）") from e
    if op == "decode":
        async with db.session() as s:
            await audit.append(
                s,
                actor=actor,
                action="codec.decode",
                detail={"payloads": len(payloads), "namespace": request.headers.get("x-namespace", "")},
            )
            await s.commit()
    return _respond(out)


@router.post("/encode", summary="加密载荷（Temporal 编解码服务）")
async def encode(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings_dep)],
    db: Annotated[Database, Depends(get_db)],
) -> dict[str, Any]:
    return await _run(request, db, _actor(request, settings), "encode")


@router.post("/decode", summary="解密载荷（Temporal 编解码服务）")
async def decode(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings_dep)],
    db: Annotated[Database, Depends(get_db)],
) -> dict[str, Any]:
    return await _run(request, db, _actor(request, settings), "decode")


def _ui_key_ok(settings: Settings, key: str) -> None:
    if not settings.codec_ui_key or not hmac.compare_digest(settings.codec_ui_key, key):
        raise ApiError(404, "http.404", "未找到")


@router.post("/ui/{key}/encode", include_in_schema=False)
async def ui_encode(
    key: str,
    request: Request,
    settings: Annotated[Settings, Depends(get_settings_dep)],
    db: Annotated[Database, Depends(get_db)],
) -> dict[str, Any]:
    _ui_key_ok(settings, key)
    return await _run(request, db, "temporal-web-ui", "encode")


@router.post("/ui/{key}/decode", include_in_schema=False)
async def ui_decode(
    key: str,
    request: Request,
    settings: Annotated[Settings, Depends(get_settings_dep)],
    db: Annotated[Database, Depends(get_db)],
) -> dict[str, Any]:
    _ui_key_ok(settings, key)
    return await _run(request, db, "temporal-web-ui", "decode")
