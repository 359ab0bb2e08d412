"""The pure anomaly rules of the skill-upgrade subsidy, with the packaged dated thresholds."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from models.rules import YearMonth
from policy.skill_alerts import IssuedCertificate, SubsidyPlace, issuer_bursts, out_of_region, payout_surges

AS_OF = date(2026, 11, 30)
M = YearMonth(2026, 11)


def test_a_league_whose_payouts_jump_is_raised_with_its_figures() -> None:
    monthly = {
        ("150100", M): Decimal("90000"),
        ("150100", M - 12): Decimal("20000"),
        **{("150100", M - i): Decimal("15000") for i in (1, 2, 3)},
        ("150200", M): Decimal("60000"),  # steady: 1.2 x its own recent average
        **{("150200", M - i): Decimal("50000") for i in (1, 2, 3, 12)},
        ("150300", M): Decimal("30000"),  # a jump, but below the floor of 50000
    }
    [alert] = payout_surges(monthly, M, {"150100": ["subsidy-a"]})
    assert alert.region_code == "150100" and alert.case_ids == ["subsidy-a"]
    assert alert.figures["this_month"] == "90000" and alert.figures["same_month_last_year"] == "20000"
    assert "4.5倍" in alert.text_zh and "2026-11" in alert.text_zh


def test_a_body_issuing_in_a_burst_is_raised_and_a_steady_one_is_not() -> None:
    steady = [IssuedCertificate("稳定机构", "150102", AS_OF - timedelta(days=7 * i)) for i in range(50)]
    burst = [IssuedCertificate("突击机构", "130102", AS_OF - timedelta(days=40 + i % 3)) for i in range(12)]
    [alert] = issuer_bursts(steady + burst, AS_OF, 365)
    assert alert.figures["issuer"] == "突击机构" and alert.figures["count"] == "12"
    assert alert.key == issuer_bursts(burst, AS_OF, 365)[0].key  # stable: raised once


def test_a_certificate_from_another_league_is_raised() -> None:
    places = [
        SubsidyPlace("a", "150100", "150102", "150105"),
        SubsidyPlace("b", "150100", "130102", "150102"),
    ]
    [alert] = out_of_region(places)
    assert alert.case_ids == ["b"] and "130102" in alert.text_zh
