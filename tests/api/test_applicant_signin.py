"""Issue 12 items 2 and 3: online applicants are who the real-name identity provider says they
are (not whoever types an ID number), and a staff member never decides their own claim.

The identity provider is the simulator's stand-in (``sim/routers/idp.py``) over real HTTP; the
API verifies issuer, audience, expiry and signature against its JWKS, re-reading the JWKS when a
token names a key id it has not seen (a rotation)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import select

from core.applicant import applicant_key
from core.oidc import OidcError, OidcVerifier
from core.seed import DEMO_PASSWORD, DEMO_STAFF, demo_id_number, upsert_staff
from core.settings import Settings
from models.enums import Role
from models.tables import Staff
from sim.testing import SimHandle
from tests.api.test_claims_api import claim_body, wait_for
from tests.conftest import applicant_login, login
from tests.factories import CaseEnv, sim_person
from tests.prod_settings import PROD_OK
from tests.waiting import polls


async def _id_token(sim: SimHandle, id_number: str, **form: Any) -> str:
    async with httpx.AsyncClient(base_url=sim.base_url) as idp:
        r = await idp.post("/idp/admin/id-token", data={"id_number": id_number, **form})
        assert r.status_code == 200, r.text
        return str(r.json()["id_token"])


async def _session(api: httpx.AsyncClient, id_token: str) -> httpx.Response:
    return await api.post("/api/v1/applicant/session", json={"id_token": id_token})


async def test_online_intake_needs_the_identity_providers_sign_in(
    case_api: httpx.AsyncClient, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    # Before: anyone typing the ID number filed a claim in that person's name.
    r = await case_api.post("/api/v1/claims", json=claim_body(person))
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.required"
    # Signed in as someone else: the ID number in the body must be the signed-in person's.
    other = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    r = await case_api.post(
        "/api/v1/claims",
        json=claim_body(person),
        headers=await applicant_login(case_api, sim.base_url, other["id_number"]),
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.applicant"
    # Signed in as themselves: accepted, and they see their own case (and only theirs).
    me = await applicant_login(case_api, sim.base_url, person["id_number"])
    r = await case_api.post("/api/v1/claims", json=claim_body(person), headers=me)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    for _ in polls():
        mine = (await case_api.get("/api/v1/applicant/cases", headers=me)).json()
        if mine:
            break
        await asyncio.sleep(0.05)
    assert [c["case_id"] for c in mine] == [case_id]
    # An applicant session opens no staff route.
    r = await case_api.get(f"/api/v1/claims/{case_id}", headers=me)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.kind"


async def test_the_api_verifies_issuer_audience_expiry_and_signature(
    case_api: httpx.AsyncClient, sim: SimHandle, pg_case_env: CaseEnv
) -> None:
    number = "11010519491231002X"
    good = await _id_token(sim, number)
    assert (await _session(case_api, good)).status_code == 200

    claims = jwt.decode(good, options={"verify_signature": False})
    kid = jwt.get_unverified_header(good)["kid"]
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": kid})
    r = await _session(case_api, forged)
    assert r.status_code == 401 and r.json()["error"]["code"] == "oidc.invalid_token"

    unsigned = jwt.encode(claims, "", algorithm="none")
    assert (await _session(case_api, unsigned)).status_code == 401
    hs = jwt.encode(claims, "guess", algorithm="HS256", headers={"kid": kid})
    assert (await _session(case_api, hs)).status_code == 401

    wrong_audience = await _id_token(sim, number, client_id="another-app")
    r = await _session(case_api, wrong_audience)
    assert r.status_code == 401 and r.json()["error"]["code"] == "oidc.invalid_token"

    expired = await _id_token(sim, number, ttl="-10")
    r = await _session(case_api, expired)
    assert r.status_code == 401 and r.json()["error"]["code"] == "oidc.expired"

    # Signed with the provider's own key, but naming another issuer (the same simulator reached
    # under another host name): refused.
    async with httpx.AsyncClient(base_url=sim.base_url.replace("127.0.0.1", "localhost")) as idp:
        r = await idp.post("/idp/admin/id-token", data={"id_number": number})
        other_issuer = r.json()["id_token"]
    assert jwt.decode(other_issuer, options={"verify_signature": False})["iss"].startswith("http://localhost")
    r = await _session(case_api, other_issuer)
    assert r.status_code == 401 and r.json()["error"]["code"] == "oidc.invalid_token"

    # The session is an applicant token, carrying the key of the verified number and never the number.
    session = (await _session(case_api, good)).json()
    assert number not in session["access_token"]
    body = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert body["kind"] == "applicant" and body["akey"] == applicant_key(pg_case_env.settings, number)


async def test_a_rotated_key_is_fetched_once_and_cached(sim: SimHandle, settings: Settings) -> None:
    verifier = OidcVerifier(sim.base_url + "/idp", "uiflow")
    number = "11010519491231002X"
    before = await _id_token(sim, number)
    await verifier.verify(before)
    await verifier.verify(await _id_token(sim, number))
    assert verifier.jwks_reads == 1  # cached
    async with httpx.AsyncClient(base_url=sim.base_url) as idp:
        assert (await idp.post("/idp/admin/rotate")).status_code == 200
    person = await verifier.verify(await _id_token(sim, number))  # an unknown kid: read again
    assert person.id_number == number and verifier.jwks_reads == 2
    # The previous key stays published, so a token signed before the rotation still verifies.
    assert (await verifier.verify(before)).id_number == number
    # A forged key id is looked up once, then remembered as missing (no JWKS read per request).
    claims = jwt.decode(before, options={"verify_signature": False})
    forged = jwt.encode(
        claims,
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "nope"},
    )
    for _ in range(3):
        with pytest.raises(OidcError):
            await verifier.verify(forged)
    assert verifier.jwks_reads == 3


def test_prod_refuses_to_start_without_the_identity_provider() -> None:
    base = {k: v for k, v in PROD_OK.items() if k != "applicant_oidc_issuer"}
    with pytest.raises(ValueError, match="UIFLOW_APPLICANT_OIDC_ISSUER"):
        Settings(**base)  # type: ignore[arg-type]
    ok = Settings(**base, applicant_oidc_issuer="https://idp.nmg.gov.cn/oidc")  # type: ignore[arg-type]
    assert ok.effective_oidc_issuer == "https://idp.nmg.gov.cn/oidc"


async def test_a_reviewer_cannot_approve_a_claim_where_they_are_the_applicant(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    """Before: staff carried no applicant key, so the own-case checks never fired."""
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    async with pg_case_env.db.session() as s:
        await upsert_staff(
            s,
            "reviewer.self",
            "自审核",
            [Role.REVIEWER],
            "150102",
            DEMO_PASSWORD,
            applicant_key=applicant_key(pg_case_env.settings, person["id_number"]),
        )
    clerk = await login(case_api, "clerk.xc")
    r = await case_api.post("/api/v1/claims", json=claim_body(person), headers=clerk)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    own = await login(case_api, "reviewer.self")
    me = (await case_api.get("/api/v1/auth/me", headers=own)).json()
    assert me["login"] == "reviewer.self"
    await wait_for(case_api, own, case_id, "under_review")
    r = await case_api.post(f"/api/v1/claims/{case_id}/approve", json={}, headers=own)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.own_case", r.text
    # Another reviewer of the district may.
    r = await case_api.post(
        f"/api/v1/claims/{case_id}/approve", json={}, headers=await login(case_api, "reviewer.xc")
    )
    assert r.status_code == 200, r.text


async def test_demo_staff_carry_their_own_applicant_key(pg_case_env: CaseEnv) -> None:
    async with pg_case_env.db.session() as s:
        reviewer = (await s.exec(select(Staff).where(Staff.login == "reviewer.xc"))).one()
    index = next(i for i, row in enumerate(DEMO_STAFF) if row[0] == "reviewer.xc")
    assert reviewer.applicant_key == applicant_key(pg_case_env.settings, demo_id_number(index))
    assert demo_id_number(index) not in str(reviewer.model_dump())
