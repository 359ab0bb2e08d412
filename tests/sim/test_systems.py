"""Each simulated system's happy path, over real HTTP, through the typed production clients."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from activities.gov import GovClients
from activities.gov.base import ExternalRefused, GovClientConfig
from activities.gov.medical import PremiumItem
from policy.identity import make_credit_code
from sim.testing import SimHandle

from .conftest import AS_OF


async def person_of(admin: httpx.AsyncClient, scenario: str) -> dict[str, Any]:
    r = await admin.get("/population", params={"scenario": scenario, "limit": 1})
    r.raise_for_status()
    return r.json()["persons"][0]


async def new_person(admin: httpx.AsyncClient, **attrs: Any) -> dict[str, Any]:
    r = await admin.post("/persons", json=attrs)
    assert r.status_code == 200, r.text
    return r.json()


async def test_registration_status_and_counter_registration(
    config: GovClientConfig, admin: httpx.AsyncClient
) -> None:
    gov = GovClients.from_config(config)
    registered = await person_of(admin, "eligible")
    status = await gov.registration.get_status(registered["id_number"])
    assert status.registered and status.registration_no and status.registered_on is not None

    p = await person_of(admin, "unregistered")
    assert not (await gov.registration.get_status(p["id_number"])).registered
    done = await gov.registration.register_at_counter(
        id_number=p["id_number"], name=p["name"], region=p["insured_region"], operator_id="staff-01"
    )
    assert done.registered and done.channel == "counter"
    again = await gov.registration.register_at_counter(
        id_number=p["id_number"], name=p["name"], region=p["insured_region"], operator_id="staff-01"
    )
    assert again.registration_no == done.registration_no

    with pytest.raises(ExternalRefused) as e:
        await gov.registration.register_at_counter(
            id_number=p["id_number"], name="别人", region=p["insured_region"], operator_id="staff-01"
        )
    assert e.value.code == "person.name_mismatch" and e.value.message_zh


async def test_contributions_record(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    gov = GovClients.from_config(config)
    p = await person_of(admin, "short_consecutive")
    rec = await gov.contributions.get_record(p["id_number"])
    assert rec.cumulative_months >= 12 and rec.last_consecutive_months < 3
    assert len(rec.records) == 36 and rec.records[-1].month == f"{AS_OF:%Y-%m}"
    assert rec.last_employer.credit_code == p["last_employer"] and rec.last_employer.name
    assert all(isinstance(r.base, Decimal) for r in rec.records if r.paid)


async def test_stop_reason_pension_and_change(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    gov = GovClients.from_config(config)
    p = await new_person(admin, scenario="voluntary_resignation", record_locked=False)
    reason = await gov.insurance_record.get_stop_reason(p["id_number"], employer=p["last_employer"])
    assert (
        reason.code == "voluntary_resignation"
        and not reason.involuntary
        and reason.label == "个人原因主动辞职"
    )
    changed = await gov.insurance_record.change_stop_reason(
        p["id_number"],
        employer_credit_code=p["last_employer"],
        code="mutual_employer_initiated",
        basis_zh="解除劳动合同协议书载明由单位提出协商解除",
        operator_id="staff-02",
        case_ref="dispute-150102-x-1",
    )
    assert changed.involuntary and changed.code == "mutual_employer_initiated"
    codes = await gov.insurance_record.list_stop_reasons()
    assert {c.code for c in codes if not c.involuntary} >= {"voluntary_resignation", "retirement", "death"}

    pensioner = await person_of(admin, "receiving_pension")
    pension = await gov.insurance_record.get_pension(pensioner["id_number"])
    assert pension.receiving and pension.since is not None


async def test_record_lock_share_and_flag(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    """The configured share locks seeded people only; the global flag locks everyone."""
    gov = GovClients.from_config(config)
    seeded = await person_of(admin, "voluntary_resignation")
    exact = await new_person(admin, scenario="voluntary_resignation")

    async def change(p: dict[str, Any]) -> str:
        try:
            await gov.insurance_record.change_stop_reason(
                p["id_number"],
                employer_credit_code=p["last_employer"],
                code="contract_expired",
                basis_zh="仲裁裁决书",
                operator_id="staff-04",
            )
        except ExternalRefused as e:
            return e.code
        return "changed"

    await admin.put("/config", json={"record_locked_share": 1.0})
    assert await change(seeded) == "record.locked"
    assert await change(exact) == "changed"
    await admin.put("/config", json={"record_locked_share": 0.0, "record_change_refused": True})
    assert await change(exact) == "record.locked"
    await admin.put("/config", json={"record_change_refused": False})
    assert await change(seeded) == "changed"


async def test_cross_province(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    gov = GovClients.from_config(config)
    p = await person_of(admin, "receiving_elsewhere")
    receipt = await gov.cross_province.check(p["id_number"])
    assert receipt.receiving_elsewhere and receipt.province and receipt.period_start
    clean = await person_of(admin, "eligible")
    assert not (await gov.cross_province.check(clean["id_number"])).receiving_elsewhere


async def test_medical_premium_paid_once_or_refused(
    config: GovClientConfig, admin: httpx.AsyncClient
) -> None:
    gov = GovClients.from_config(config)
    items = [
        PremiumItem(kind="basic_medical", amount=Decimal("312.40")),
        PremiumItem(kind="large_amount_supplementary", amount=Decimal("8.00")),
    ]
    p = await person_of(admin, "eligible")
    paid = await gov.medical.pay_premium(
        idempotency_key="claim-1-2025-06-med", id_number=p["id_number"], month="2025-06", items=items
    )
    assert paid.total == Decimal("320.40") and paid.status == "paid"
    again = await gov.medical.pay_premium(
        idempotency_key="claim-1-2025-06-med", id_number=p["id_number"], month="2025-06", items=items
    )
    assert again.payment_no == paid.payment_no
    assert (await gov.medical.get_premium("claim-1-2025-06-med")).payment_no == paid.payment_no
    listed = (await admin.get("/medical/premiums", params={"id_number": p["id_number"]})).json()
    assert listed["count"] == 1

    flexible = await person_of(admin, "flexible_medical")
    assert (await gov.medical.get_status(flexible["id_number"])).status == "flexible_worker"
    for _ in range(2):
        with pytest.raises(ExternalRefused) as e:
            await gov.medical.pay_premium(
                idempotency_key="claim-2-2025-06-med",
                id_number=flexible["id_number"],
                month="2025-06",
                items=items,
            )
        assert e.value.code == "already_insured_flexible" and "灵活就业" in e.value.message_zh


async def test_certificates(sim: SimHandle, config: GovClientConfig) -> None:
    gov = GovClients.from_config(config)
    cert = next(iter(sim.state.pop.certificates.values()))
    found = await gov.certificates.get(cert.cert_no)
    assert found.holder_id_number == cert.holder_id_number and found.level_label
    assert await gov.certificates.lookup("S000000000000000000") is None


async def test_bank_pays_and_refuses_bad_accounts(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    gov = GovClients.from_config(config)
    p = await person_of(admin, "eligible")
    d = await gov.bank.disburse(
        idempotency_key="claim-1-2025-06",
        account_no=p["account_no"],
        account_name=p["name"],
        amount=Decimal("1862.6"),
        purpose="失业保险金",
    )
    assert d.status == "paid" and d.amount == Decimal("1862.60") and d.bank_ref
    assert (await gov.bank.get_disbursement("claim-1-2025-06")).bank_ref == d.bank_ref

    closed = await person_of(admin, "closed_account")
    bad_luhn = p["account_no"][:-1] + str((int(p["account_no"][-1]) + 1) % 10)
    for account, name in (
        (closed["account_no"], closed["name"]),
        (bad_luhn, p["name"]),
        (p["account_no"], "张三"),
    ):
        with pytest.raises(ExternalRefused) as e:
            await gov.bank.disburse(
                idempotency_key=f"k-{account}-{name}",
                account_no=account,
                account_name=name,
                amount=Decimal("10.00"),
                purpose="失业保险金",
            )
        assert e.value.code == "account.invalid"


async def test_notifier(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    gov = GovClients.from_config(config)
    p = await person_of(admin, "eligible")
    kwargs: dict[str, Any] = dict(
        channel="sms",
        recipient=p["phone"],
        template="claim.accepted",
        text_zh="您的失业保险金申请已受理，我们将在10个工作日内完成审核。",
        case_ref="claim-150102-x-1",
        idempotency_key="claim-150102-x-1:accepted",
    )
    first = await gov.notifier.send(**kwargs)
    assert (await gov.notifier.send(**kwargs)).message_id == first.message_id
    await gov.notifier.send(
        **{**kwargs, "channel": "portal", "recipient": p["id_number"], "idempotency_key": None}
    )
    await gov.notifier.send(
        **{**kwargs, "channel": "portal", "recipient": "staff:clerk.xc", "idempotency_key": None}
    )
    listed = (await admin.get("/notifier/messages", params={"case_ref": "claim-150102-x-1"})).json()
    assert listed["count"] == 3 and {m["channel"] for m in listed["messages"]} == {"sms", "portal"}
    with pytest.raises(ExternalRefused) as e:
        await gov.notifier.send(**{**kwargs, "recipient": "12345", "idempotency_key": None})
    assert e.value.code == "recipient.invalid"


async def test_employers(config: GovClientConfig, admin: httpx.AsyncClient, sim: SimHandle) -> None:
    gov = GovClients.from_config(config)
    p = await person_of(admin, "mass_separation")
    employer = await gov.employers.get(p["last_employer"])
    assert employer.credit_code == sim.state.pop.mass_employer and employer.insured_headcount <= 20
    unknown = make_credit_code("150102", 1)
    with pytest.raises(ExternalRefused) as e:
        await gov.employers.get(unknown)
    assert e.value.code == "employer.not_found" and e.value.status_code == 404
    wrong_check = unknown[:-1] + ("1" if unknown[-1] != "1" else "2")
    with pytest.raises(ExternalRefused) as e:
        await gov.employers.get(wrong_check)
    assert e.value.code == "credit_code.invalid"


async def test_admin_population_and_exact_persons(admin: httpx.AsyncClient) -> None:
    r = await admin.get("/population", params={"scenario": "near_retirement", "limit": 3})
    body = r.json()
    assert body["total"] >= 1 and len(body["persons"]) <= 3
    assert all(p["scenario"] == "near_retirement" for p in body["persons"])
    assert (await admin.get("/population", params={"scenario": "nope"})).status_code == 422

    p = await new_person(
        admin,
        scenario="eligible",
        id_region="130102",
        insured_region="150203",
        registered=False,
        stop_reason_code="voluntary_resignation",
        medical_status="flexible_worker",
        cumulative_months=30,
        last_consecutive_months=2,
    )
    assert p["id_number"].startswith("130102") and p["insured_region"] == "150203"
    assert (
        not p["registered"]
        and p["stop_reason_code"] == "voluntary_resignation"
        and p["medical_status"] == "flexible_worker"
    )
    assert (p["cumulative_months"], p["last_consecutive_months"]) == (30, 2)
    assert (await admin.get(f"/persons/{p['id_number']}")).json() == p
    bad = await admin.post("/persons", json={"insured_region": "999999"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "region.invalid"
