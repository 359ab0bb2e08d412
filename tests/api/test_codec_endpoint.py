"""The codec endpoint the Temporal Web UI and CLI use: authenticated, audited, CORS for the UI."""

from __future__ import annotations

import base64

import httpx
from google.protobuf import json_format
from sqlmodel import col, select
from temporalio.api.common.v1 import Payload, Payloads

from api.app import create_app
from api.deps import SESSION_COOKIE
from core.db import Database
from core.settings import Settings
from models.tables import AuditLog
from tests.conftest import login


def _body(*payloads: Payload) -> dict[str, object]:
    return json_format.MessageToDict(Payloads(payloads=list(payloads)))


async def test_encode_then_decode_round_trip_and_audit(pg_api: httpx.AsyncClient, pg_db: Database) -> None:
    headers = await login(pg_api, "supervisor.hhht")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"id_number":"150102198005171237"}')
    r = await pg_api.post("/codec/encode", json=_body(plain), headers=headers)
    assert r.status_code == 200, r.text
    sealed = r.json()["payloads"][0]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
    assert b"150102198005171237" not in base64.b64decode(sealed["data"])
    case_id = "claim-150102-" + "a" * 24 + "-1"
    r = await pg_api.post(
        "/codec/decode",
        json={"payloads": [sealed, sealed]},
        headers={
            **headers,
            "X-Namespace": "uiflow",
            "Referer": f"http://127.0.0.1:8233/namespaces/uiflow/workflows/{case_id}/run-1/history",
        },
    )
    assert r.status_code == 200
    assert base64.b64decode(r.json()["payloads"][0]["data"]) == plain.data
    async with pg_db.session() as s:
        entries = (
            await s.exec(select(AuditLog).where(AuditLog.actor == "supervisor.hhht").order_by(AuditLog.id))
        ).all()
    encoded, decoded = [e for e in entries if e.action.startswith("codec.")][-2:]
    assert encoded.action == "codec.encode" and encoded.detail["payloads"] == 1
    assert decoded.action == "codec.decode" and decoded.case_id == case_id and decoded.at is not None
    assert decoded.detail == {"payloads": 2, "refused": 0, "namespace": "uiflow"}


async def test_codec_follows_the_audit_redaction_rule(pg_api: httpx.AsyncClient) -> None:
    """Operations engineers get redacted timelines (no personal data), so no codec either."""
    r = await pg_api.post("/codec/decode", json={"payloads": []})
    assert r.status_code == 401
    for who in ("ops.nmg",):
        r = await pg_api.post("/codec/decode", json={"payloads": []}, headers=await login(pg_api, who))
        assert r.status_code == 403 and r.json()["error"]["code"] == "auth.role", who
    for who in ("reviewer.xc", "clerk.xc", "admin"):
        r = await pg_api.post("/codec/decode", json={"payloads": []}, headers=await login(pg_api, who))
        assert r.status_code == 200, (who, r.text)


async def test_unsealed_payloads_are_refused_except_the_allow_list(pg_api: httpx.AsyncClient) -> None:
    """What the Web UI sends unsealed with a history: search-attribute values and the SDK's patch
    markers (found in tests/histories); a plain command is refused."""
    headers = await login(pg_api, "reviewer.xc")
    keyword = Payload(metadata={"encoding": b"json/plain", "type": b"Keyword"}, data=b'"under_review"')
    flag = Payload(metadata={"encoding": b"json/plain", "type": b"Bool"}, data=b"false")
    marker = Payload(
        metadata={"encoding": b"json/plain"}, data=b'{"id":"start-benefit-period","deprecated":false}'
    )
    r = await pg_api.post("/codec/decode", json=_body(keyword, flag, marker), headers=headers)
    assert r.status_code == 200, r.text
    assert [base64.b64decode(p["data"]) for p in r.json()["payloads"]] == [
        keyword.data,
        flag.data,
        marker.data,
    ]
    forged = Payload(
        metadata={"encoding": b"json/plain"}, data=b'{"actor":{"login":"reviewer.xc","roles":["reviewer"]}}'
    )
    disguised = Payload(metadata={"encoding": b"json/plain", "type": b"Keyword"}, data=forged.data)
    for bad in (forged, disguised):
        r = await pg_api.post("/codec/decode", json=_body(keyword, bad), headers=headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == "codec.unsealed", r.text


async def test_wrong_key_payload_is_a_clear_error(pg_api: httpx.AsyncClient) -> None:
    headers = await login(pg_api, "reviewer.xc")
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
        # With the console session the browser sends along, the decode is the person's.
        bearer = (await login(c, "auditor.nmg"))["Authorization"].removeprefix("Bearer ")
        c.cookies.set(SESSION_COOKIE, bearer)
        r = await c.post("/codec/ui/ui-secret/decode", json={"payloads": []})
        assert r.status_code == 200, r.text
    async with pg_db.session() as session:
        last = (
            await session.exec(
                select(AuditLog).where(AuditLog.action == "codec.decode").order_by(col(AuditLog.id).desc())
            )
        ).first()
    assert last is not None and last.actor == "auditor.nmg"
