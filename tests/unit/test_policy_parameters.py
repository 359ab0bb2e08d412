"""policy.parameters: effective-dated values, their sources, and the operator overlay."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from models.rules import YearMonth
from policy.entitlement import benefit_amount
from policy.errors import PolicyError
from policy.parameters import merge_parameters, packaged_parameters, parse_parameter_docs

P = packaged_parameters()


def test_every_packaged_entry_has_a_source_and_status() -> None:
    assert len(P.names()) > 30
    for name in P.names():
        for e in P.history(name):
            assert e.source.strip(), name
            assert e.status in ("confirmed", "unconfirmed"), name
            if e.status == "unconfirmed":
                assert e.note or "UNCONFIRMED" in e.source or "none found" in e.source, name


@pytest.mark.parametrize(
    ("name", "as_of"),
    [
        ("minimum_wage.category1_monthly", date(2025, 12, 1)),  # B3: single source
        ("minimum_wage.category1_monthly", date(2022, 1, 1)),  # B3: start date unknown
        ("benefit.rate.months_1_to_12", date(2024, 7, 31)),  # B2: when 90% began
        ("review.count_receipt_day", date(2025, 1, 1)),  # D4
        ("near_retirement.window_includes_boundary", None),  # C6 Rule 3
        ("near_retirement.pay_retirement_month", None),  # C6 open edge
        ("near_retirement.transitional_receiving_date", None),  # C6 Rule 4
        ("skill.required_contribution_months", date(2026, 1, 1)),  # E1: no 2026 extension found
        ("skill.recipients_eligible", date(2026, 1, 1)),
        ("risk.mass_separation.window_days", date(2025, 1, 1)),  # G: thresholds not found
        ("risk.mass_separation.min_claimants", date(2025, 1, 1)),
        ("risk.claimant_ratio.threshold", date(2025, 1, 1)),
    ],
)
def test_unconfirmed_figures_are_marked(name: str, as_of: date | None) -> None:
    assert P.entry(name, as_of).status == "unconfirmed"


def test_confirmed_figures() -> None:
    assert P.entry("minimum_wage.category1_monthly", date(2025, 6, 1)).confirmed
    assert P.decimal("minimum_wage.category1_monthly", date(2025, 6, 1)) == Decimal("2270")
    assert P.entry("benefit.rate.months_1_to_12", date(2024, 8, 1)).confirmed
    assert P.integer("review.working_days", date(2025, 1, 20)) == 10


def test_value_changes_exactly_on_the_effective_date() -> None:
    assert P.decimal("benefit.rate.months_1_to_12", date(2024, 7, 31)) == Decimal("0.90")
    assert P.decimal("benefit.rate.months_1_to_12", date(2024, 8, 1)) == Decimal("0.95")
    assert P.decimal("minimum_wage.category1_monthly", date(2024, 11, 30)) == Decimal("1980")
    assert P.decimal("minimum_wage.category1_monthly", date(2024, 12, 1)) == Decimal("2270")
    assert P.entry("minimum_wage.category1_monthly", date(2024, 12, 1)).effective_from == date(2024, 12, 1)


def test_no_value_before_the_first_date_and_unknown_names() -> None:
    with pytest.raises(PolicyError) as e:
        P.value("minimum_wage.category1_monthly", date(2021, 11, 30))
    assert e.value.code == "params.no_value"
    with pytest.raises(PolicyError) as e:
        P.value("no.such.parameter", date(2025, 1, 1))
    assert e.value.code == "params.unknown"
    with pytest.raises(PolicyError) as e:  # UNCONFIRMED medical standard: no value until an operator adds it
        P.value("medical.proxy_standard_monthly", date(2025, 1, 1))
    assert e.value.code == "params.no_value"


def test_decimal_values_are_exact() -> None:
    rate = P.decimal("benefit.rate.month_13_on", date(2025, 1, 1))
    assert isinstance(rate, Decimal) and rate == Decimal("0.85")


OPERATOR_DOC: dict[str, Any] = {
    "parameters": {
        "minimum_wage.category1_monthly": {
            "values": [
                {
                    "effective_from": date(2026, 12, 1),
                    "value": "2500",
                    "status": "confirmed",
                    "source": "内政办发〔2026〕XX号 (test)",
                }
            ]
        }
    }
}


def test_operator_adds_a_value_without_code_change() -> None:
    merged = merge_parameters(P, [OPERATOR_DOC])
    assert merged.version != P.version
    b = benefit_amount(1, YearMonth(2026, 12), merged)
    assert b.base == Decimal("2500") and b.amount == Decimal("2375")
    assert b.parameter_version == merged.version
    # the base set is untouched and the previous month still uses the previous value
    assert benefit_amount(1, YearMonth(2026, 12)).base == Decimal("2380")
    assert benefit_amount(1, YearMonth(2026, 11), merged).base == Decimal("2380")


def test_operator_replaces_a_value_on_the_same_date() -> None:
    doc = {
        "parameters": {
            "minimum_wage.category1_monthly": {
                "values": [
                    {"effective_from": "2025-12-01", "value": "2380", "status": "confirmed", "source": "x"}
                ]
            }
        }
    }
    merged = merge_parameters(P, [doc])
    assert merged.entry("minimum_wage.category1_monthly", date(2025, 12, 1)).confirmed
    assert len(merged.history("minimum_wage.category1_monthly")) == len(
        P.history("minimum_wage.category1_monthly")
    )


def test_operator_can_supply_the_unconfirmed_medical_standard() -> None:
    doc = {
        "parameters": {
            "medical.proxy_standard_monthly": {
                "values": [
                    {
                        "effective_from": "2025-01-01",
                        "value": "412.30",
                        "status": "confirmed",
                        "source": "医保局",
                    }
                ]
            }
        }
    }
    merged = merge_parameters(P, [doc])
    assert merged.decimal("medical.proxy_standard_monthly", date(2025, 7, 1)) == Decimal("412.30")


@pytest.mark.parametrize(
    ("values", "code"),
    [
        (
            [{"effective_from": "2026-01-01", "value": 0.95, "status": "confirmed", "source": "x"}],
            "params.invalid",
        ),
        ([{"effective_from": "2026-01-01", "value": "0.95", "status": "confirmed"}], "params.invalid"),
        (
            [{"effective_from": "2026-01-01", "value": "0.95", "status": "maybe", "source": "x"}],
            "params.invalid",
        ),
        (
            [{"effective_from": "2026-13-01", "value": "0.95", "status": "confirmed", "source": "x"}],
            "params.invalid",
        ),
        (
            [{"effective_from": "2026-01-01", "value": "abc", "status": "confirmed", "source": "x"}],
            "params.invalid",
        ),
        (
            [
                {"effective_from": "2026-01-01", "value": "0.9", "status": "confirmed", "source": "x"},
                {"effective_from": "2026-01-01", "value": "0.8", "status": "confirmed", "source": "x"},
            ],
            "params.invalid",
        ),
    ],
)
def test_operator_documents_are_validated(values: list[dict[str, Any]], code: str) -> None:
    doc = {"parameters": {"benefit.rate.months_1_to_12": {"values": values}}}
    with pytest.raises(PolicyError) as e:
        merge_parameters(P, [doc])
    assert e.value.code == code


def test_operator_cannot_invent_names_or_change_types() -> None:
    with pytest.raises(PolicyError) as e:
        merge_parameters(P, [{"parameters": {"benefit.rate.typo": {"values": []}}}])
    assert e.value.code == "params.unknown"
    with pytest.raises(PolicyError) as e:
        merge_parameters(P, [{"parameters": {"review.working_days": {"type": "decimal", "values": []}}}])
    assert e.value.code == "params.invalid"
    with pytest.raises(PolicyError):
        merge_parameters(P, [{"not_parameters": {}}])


def test_version_is_a_content_hash() -> None:
    doc: dict[str, Any] = {
        "parameters": {
            "x.y": {
                "description": "d",
                "type": "int",
                "values": [
                    {"effective_from": "2025-01-01", "value": 1, "status": "confirmed", "source": "s"}
                ],
            }
        }
    }
    a = parse_parameter_docs([doc])
    b = parse_parameter_docs([copy.deepcopy(doc)])
    assert a.version == b.version
    doc["parameters"]["x.y"]["values"][0]["value"] = 2
    assert parse_parameter_docs([doc]).version != a.version


def test_entry_as_dict_is_json_ready() -> None:
    d = P.entry("pension.min_contribution_months", None).as_dict()
    assert d["value"][0] == {"from": 2011, "value": 180}
    assert d["effective_from"] == "2025-01-01"
