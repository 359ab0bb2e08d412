"""The seeded population: reproducible from the seed, valid identifiers, every scenario present."""

from __future__ import annotations

from collections import Counter
from datetime import date

from policy.identity import parse_resident_id, validate_credit_code
from policy.regions import is_known_region
from sim.catalogue import STOP_REASONS, VOLUNTARY_RESIGNATION
from sim.population import (
    ANOMALY_PEOPLE,
    ANOMALY_SCENARIOS,
    SCENARIOS,
    build_population,
    fingerprint,
    luhn_ok,
    monthly_records,
)

AS_OF = date(2025, 6, 16)


def test_same_seed_same_population_other_seed_differs() -> None:
    a, _ = build_population(11, 400, AS_OF)
    b, _ = build_population(11, 400, AS_OF)
    c, _ = build_population(12, 400, AS_OF)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(c)


def test_identifiers_are_valid_and_unique() -> None:
    pop, _ = build_population(3, 1000, AS_OF)
    assert len(pop.persons) == 1000 + ANOMALY_PEOPLE
    other_province = 0
    for number, p in pop.persons.items():
        rid = parse_resident_id(number)
        assert rid.birth == p.birth_date and rid.sex == p.sex
        other_province += not number.startswith("15")
        assert is_known_region(p.insured_region)
        assert p.last_employer in pop.employers
        assert luhn_ok(p.account_no)
        assert len(p.phone) == 11 and p.phone.startswith("1")
        assert p.stop_reason_code in STOP_REASONS
    assert other_province > 0, "some people hold ID numbers issued in other provinces"
    for code, e in pop.employers.items():
        assert validate_credit_code(code) == code
        assert is_known_region(e.region) and e.insured_headcount > 0
    for cert in pop.certificates.values():
        assert cert.holder_id_number in pop.persons


def test_every_scenario_occurs_with_the_right_facts() -> None:
    pop, _ = build_population(5, 500, AS_OF)
    by = Counter(p.scenario for p in pop.persons.values())
    assert set(by) == set(SCENARIOS) | set(ANOMALY_SCENARIOS)  # the seeded anomalies ride along
    assert 0.6 < by["eligible"] / 500 < 0.8
    small, _ = build_population(5, len(SCENARIOS), AS_OF)
    assert {p.scenario for p in small.persons.values()} == set(SCENARIOS) | set(ANOMALY_SCENARIOS)

    for p in pop.persons.values():
        involuntary = STOP_REASONS[p.stop_reason_code].involuntary
        match p.scenario:
            case "eligible":
                assert p.registered and involuntary and p.cumulative_months >= 12
                assert p.last_consecutive_months >= 3 and not p.receiving_elsewhere
            case "unregistered":
                assert not p.registered
            case "voluntary_resignation":
                assert p.stop_reason_code == VOLUNTARY_RESIGNATION and not involuntary
            case "short_contributions":
                assert p.cumulative_months < 12
            case "short_consecutive":
                assert p.cumulative_months >= 12 and p.last_consecutive_months < 3
            case "receiving_elsewhere":
                assert p.receiving_elsewhere and p.elsewhere_province_code
            case "flexible_medical":
                assert p.medical_status == "flexible_worker"
            case "near_retirement":
                age = (AS_OF - p.birth_date).days / 365.25
                assert (59 <= age < 60) if p.sex == "male" else (49 <= age < 50)
            case "receiving_pension":
                assert p.pension_receiving and p.pension_since
            case "closed_account":
                assert p.account_status == "closed"
            case "mass_separation":
                assert p.last_employer == pop.mass_employer
    mass = pop.employers[pop.mass_employer]
    assert by["mass_separation"] > mass.insured_headcount * 0.2


def test_monthly_records_match_the_summary() -> None:
    pop, _ = build_population(9, 200, AS_OF)
    for p in pop.persons.values():
        records = monthly_records(p, AS_OF)
        assert len(records) == 36 and records[-1].month == "2025-06"
        months = [r.month for r in records]
        last = months.index(p.last_contribution_month)
        assert records[last].paid and not any(r.paid for r in records[last + 1 :])
        run = 0
        while last - run >= 0 and records[last - run].paid:
            run += 1
        assert run == min(p.last_consecutive_months, last + 1)
        assert sum(r.paid for r in records) <= p.cumulative_months
