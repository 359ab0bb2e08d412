"""Input no route can handle, refused at the edge with a 4xx before any route runs:

- a NUL character: PostgreSQL cannot store or even compare text containing one ("invalid byte
  sequence for encoding UTF8: 0x00"), so a ``%00`` in a path or query parameter, or a
  ``\\u0000`` in a JSON body, reached the database as a 500 on whichever route looked it up
  (found by Schemathesis on ``/api/v1/audit/verify?case_id=…%00…``). No real input has one.
- a credential header (token, CSRF token, callback signature) that is not ASCII: every one of
  them is compared with ``hmac.compare_digest``, which raises on non-ASCII text (a 500 on the
  callbacks and console posts). No real credential is anything but ASCII."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activities.gov.callbacks import SIGNATURE_HEADER
from api.errors import error_body

MESSAGE = "请求中含有不允许的控制字符（NUL），请检查后重新提交"
CREDENTIAL_HEADERS = frozenset(
    h.lower().encode() for h in ("Authorization", "X-CSRF-Token", SIGNATURE_HEADER)
)
HEADER_MESSAGE = "请求头含有非ASCII字符（令牌、签名等只能是ASCII字符），请检查后重新提交"


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope):
            await _refuse(send, "request.invalid", MESSAGE)
            return
        if any(k in CREDENTIAL_HEADERS and not v.isascii() for k, v in scope.get("headers", [])):
            await _refuse(send, "request.header", HEADER_MESSAGE, 400)
            return
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        if not content_type.startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if b"\\u0000" in body or b"\x00" in body:
            await _refuse(send, "request.invalid", MESSAGE)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, code: str, message: str, status: int = 422) -> None:
    payload = json.dumps(error_body(code, message), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
