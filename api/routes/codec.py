"""The remote codec endpoint, so authorised staff see decrypted payloads in the Temporal Web UI
and CLI (``--codec-endpoint``). Same wire format as Temporal's codec server: a JSON
``{"payloads": [...]}`` in protobuf-JSON form.

Open only to the roles that may see personal data in a timeline (``DECRYPT_ROLES``, the audit
redaction's rule: operations engineers get redacted timelines, so no codec either). Every call,
encode or decode, is written to the audit log with who, when, how many payloads, the namespace
and the workflow when the caller names it (``X-Workflow-Id``, or the Web UI page in ``Referer``).
An unsealed payload that is not on the codec's allow-list is refused (422)."""

from __future__ import annotations

import hmac
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.deps import SESSION_COOKIE, get_db, get_settings_dep
from api.errors import ApiError
from api.principals import Decryptor
from core import audit
from core.codec import CodecError, is_refused
from core.db import Database
from core.security import TokenError, decode_token
from core.settings import Settings

router = APIRouter(prefix="/codec", tags=["codec"])

# Workflow ids carry no personal data (a case id); anything else is not recorded.
_WORKFLOW_ID_RE = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")
_UI_WORKFLOW_RE = re.compile(r"/namespaces/[^/]+/workflows/([^/?#]+)")


async def _payloads(request: Request) -> list[Payload]:
    try:
        msg = json_format.Parse(await request.body(), Payloads())
    except json_format.ParseError as e:
        raise ApiError(400, "codec.bad_request", "请求内容不是有效的载荷") from e
    return list(msg.payloads)


def _respond(payloads: list[Payload]) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


def _workflow_of(request: Request) -> str | None:
    named = request.headers.get("x-workflow-id", "")
    if not named:
        m = _UI_WORKFLOW_RE.search(request.headers.get("referer", ""))
        named = m.group(1) if m else ""
    return named if _WORKFLOW_ID_RE.match(named) else None


async def _run(request: Request, db: Database, actor: str, op: Literal["encode", "decode"]) -> dict[str, Any]:
    codec = request.app.state.codec
    payloads = await _payloads(request)
    try:
        out = await (codec.encode(payloads) if op == "encode" else codec.decode(payloads))
    except CodecError as e:
        raise ApiError(422, "codec.failed", "载荷无法解密（密钥不符或数据被篡改）") from e
    refused = sum(1 for p in out if is_refused(p)) if op == "decode" else 0
    namespace = request.headers.get("x-namespace", "")
    async with db.session() as s:
        await audit.append(
            s,
            actor=actor,
            action=f"codec.{op}",
            case_id=_workflow_of(request),
            detail={
                "payloads": len(payloads),
                "refused": refused,
                "namespace": namespace if namespace.isascii() else "",
            },
        )
        await s.commit()
    if refused:
        raise ApiError(422, "codec.unsealed", "载荷未经加密且不在允许名单内，已拒绝解码")
    return _respond(out)


@router.post("/encode", summary="加密载荷（Temporal 编解码服务）")
async def encode(
    request: Request,
    staff: Decryptor,
    db: Annotated[Database, Depends(get_db)],
) -> dict[str, Any]:
    return await _run(request, db, staff.login, "encode")


@router.post("/decode", summary="解密载荷（Temporal 编解码服务）")
async def decode(
    request: Request,
    staff: Decryptor,
    db: Annotated[Database, Depends(get_db)],
) -> dict[str, Any]:
    return await _run(request, db, staff.login, "decode")


UI_ACTOR = "temporal-web-ui"


def _ui_caller(request: Request, settings: Settings) -> str:
    """Who asked through the Web UI: the staff member whose console session the browser sent
    (the Web UI's codec setting "Include cross-origin credentials"), so the decode is audited
    under that person; the Web UI itself only when the browser sent no session. Attribution, not
    authorisation: the UI key already admitted the call."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return UI_ACTOR
    try:
        claims = decode_token(settings, token)
    except TokenError:
        return UI_ACTOR
    return claims.login or UI_ACTOR


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
    return await _run(request, db, _ui_caller(request, settings), "encode")


@router.post("/ui/{key}/decode", include_in_schema=False)
async def ui_decode(
    key: str,
    request: Request,
    settings: Annotated[Settings, Depends(get_settings_dep)],
    db: Annotated[Database, Depends(get_db)],
) -> dict[str, Any]:
    _ui_key_ok(settings, key)
    return await _run(request, db, _ui_caller(request, settings), "decode")
