"""The codec endpoint the Temporal Web UI and CLI use: authenticated, audited, CORS for the UI."""

from __future__ import annotations

import base64

import httpx
from google.protobuf import json_format
from sqlmodel import select
from temporalio.api.common.v1 import Payload, Payloads

from api.app import create_app
from core.db import Database
from core.settings import Settings
from models.tables import AuditLog
from tests.conftest import login


def _body(*payloads: Payload) -> dict[str, object]:
    return json_format.MessageToDict(Payloads(payloads=list(payloads)))


async def test_encode_then_decode_round_trip_and_audit(pg_api: httpx.AsyncClient, pg_db: Database) -> None:
    headers = await login(pg_api, "ops.nmg")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"id_number":"150102198005171237"}')
    r = await pg_api.post("/codec/encode", json=_body(plain), headers=headers)
    assert r.status_code == 200
    sealed = r.json()["payloads"][0]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
    assert b"150102198005171237" not in base64.b64decode(sealed["data"])
    r = await pg_api.post(
        "/codec/decode", json={"payloads": [sealed]}, headers={**headers, "X-Namespace": "uiflow"}
    )
    assert r.status_code == 200
    assert base64.b64decode(r.json()["payloads"][0]["data"]) == plain.data
    async with pg_db.session() as s:
        entries = (
            await s.exec(
                select(AuditLog).where(AuditLog.action == "codec.decode", AuditLog.actor == "ops.nmg")
            )
        ).all()
        assert entries and entries[-1].detail["namespace"] == "uiflow"


async def test_decode_needs_an_authorised_role(pg_api: httpx.AsyncClient) -> None:
    r = await pg_api.post("/codec/decode", json={"payloads": []})
    assert r.status_code == 401
    clerk = await login(pg_api, "clerk.xc")
    r = await pg_api.post("/codec/decode", json={"payloads": []}, headers=clerk)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.role"


async def test_wrong_key_payload_is_a_clear_error(pg_api: httpx.AsyncClient) -> None:
    headers = await login(pg_api, "ops.nmg")
    bogus = Payload(metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"zz"}, data=b"x" * 40)
    r = await pg_api.post("/codec/decode", json=_body(bogus), headers=headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "codec.failed"


async def test_ui_key_route_and_cors(settings: Settings, pg_db: Database) -> None:
    s = settings.model_copy(update={"codec_ui_key": "ui-secret"})
    app = create_app(s, db=pg_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        pre = await c.options(
            "/codec/ui/ui-secret/decode",
            headers={
                "Origin": "http://127.0.0.1:8233",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
        r = await c.post("/codec/ui/ui-secret/encode", json={"payloads": []})
        assert r.status_code == 200 and r.json() == {}
        r = await c.post("/codec/ui/guess/encode", json={"payloads": []})
        assert r.status_code == 404
