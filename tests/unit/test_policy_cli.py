"""cli.policy_cmd: the staff calculators' JSON contract, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.policy_cmd import app, main

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def ok(*args: str) -> dict[str, Any]:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def refused(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    return r.stderr


def test_retirement_age() -> None:
    assert ok("retirement-age", "--category", "male", "--birth", "1965-08") == {
        "delay_months": 2,
        "age_years": 60,
        "age_months": 2,
        "retirement_month": "2025-10",
        "original_retirement_month": "2025-08",
    }
    assert (
        ok("retirement-age", "--category", "female-50", "--birth", "1995-12")["retirement_month"] == "2050-12"
    )


def test_review_deadline_and_working_days() -> None:
    assert ok("review-deadline", "--received", "2025-01-20") == {
        "received": "2025-01-20",
        "deadline": "2025-02-08",
        "working_days": 10,
    }
    assert (
        ok("review-deadline", "--received", "2025-01-20", "--working-days", "1")["deadline"] == "2025-01-21"
    )
    assert ok("working-days", "--start", "2026-01-01", "--end", "2026-12-31") == {"count": 248}


def test_entitlement() -> None:
    assert ok("entitlement", "--contribution-months", "60") == {
        "eligible": True,
        "max_months": 18,
        "reason": None,
    }
    assert ok("entitlement", "--contribution-months", "60", "--unused-months", "10")["max_months"] == 24
    out = ok("entitlement", "--contribution-months", "11")
    assert out == {"eligible": False, "max_months": 0, "reason": "eligibility.contribution_short"}


@pytest.mark.parametrize(
    ("index", "month", "amount"),
    [
        ("1", "2024-08", "1881"),
        ("13", "2024-08", "1683"),
        ("1", "2025-01", "2156.5"),
        ("13", "2025-01", "1929.5"),
    ],
)
def test_benefit_amount(index: str, month: str, amount: str) -> None:
    out = ok("benefit-amount", "--month-index", index, "--pay-month", month)
    assert out["amount"] == amount and isinstance(out["rate"], str) and isinstance(out["base"], str)


def test_min_contribution_refund_near_retirement() -> None:
    assert ok("min-contribution", "--retirement-year", "2030") == {"months": 186}
    assert ok("refund", "--paid", "300.50", "--standard", "280") == {"refund": "280"}
    assert ok("refund", "--paid", "199.9", "--standard", "280") == {"refund": "199.9"}
    base = ["near-retirement", "--category", "male", "--birth", "1966-03"]
    assert ok(*base, "--expiry", "2025-05", "--receiving-on-2024-12-31", "yes") == {
        "outcome": "transitional_to_original_retirement",
        "pay_through": "2026-03",
    }
    assert ok(*base, "--expiry", "2025-08", "--receiving-on-2024-12-31", "no") == {
        "outcome": "continue_to_retirement",
        "pay_through": "2026-07",
    }
    assert ok(*base, "--expiry", "2025-05", "--receiving-on-2024-12-31", "no") == {
        "outcome": "none",
        "pay_through": None,
    }


def test_check_id() -> None:
    assert ok("check-id", "11010519491231002X") == {
        "valid": True,
        "birth": "1949-12-31",
        "sex": "female",
        "region": "110105",
    }
    out = ok("check-id", "110105194912310021")
    assert out["valid"] is False and out["error"] == "id.checksum" and out["message"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["retirement-age", "--category", "male", "--birth", "1965-13"], "月份不存在"),
        (["review-deadline", "--received", "2099-01-05"], "2099年"),
        (["review-deadline", "--received", "2025-02-30"], "YYYY-MM-DD"),
        (["review-deadline", "--received", "20250120"], "YYYY-MM-DD"),
        (["review-deadline", "--received", "2025-01-20", "--working-days", "-1"], "正整数"),
        (["working-days", "--start", "2025-02-09", "--end", "2025-02-08"], "早于"),
        (["entitlement", "--contribution-months", "-1"], "负数"),
        (["benefit-amount", "--month-index", "0", "--pay-month", "2025-01"], "正整数"),
        (["benefit-amount", "--month-index", "1", "--pay-month", "2019-01"], "尚无生效取值"),
        (["refund", "--paid", "-5", "--standard", "280"], "负数"),
        (["refund", "--paid", "abc", "--standard", "280"], "格式不正确"),
        (["min-contribution", "--retirement-year", "1990"], "超出"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    assert needle in refused(*args)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.policy_cmd", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_real_process_contract() -> None:
    r = _run("benefit-amount", "--month-index", "1", "--pay-month", "2025-01")
    assert r.returncode == 0 and json.loads(r.stdout) == {"amount": "2156.5", "rate": "0.95", "base": "2270"}
    assert r.stderr == ""
    for args in (
        ["retirement-age", "--category", "robot", "--birth", "1965-01"],  # usage error (bad choice)
        ["review-deadline", "--received", "2099-01-05"],  # rule refusal: no table for 2099
    ):
        r = _run(*args)
        assert r.returncode == 2, args
        assert r.stdout == ""
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("错误：") and "Traceback" not in r.stderr
    r = _run("check-id", "123")
    assert r.returncode == 0 and json.loads(r.stdout)["error"] == "id.length"


@pytest.mark.parametrize(
    "args",
    [
        ["retirement-age", "--birth", "1965-01"],  # missing option
        ["entitlement", "--contribution-months", "x"],  # not an integer
        [
            "near-retirement",
            "--category",
            "male",
            "--birth",
            "1966-03",
            "--expiry",
            "2025-05",
            "--receiving-on-2024-12-31",
            "maybe",
        ],  # bad choice
        ["no-such-command"],
    ],
)
def test_usage_errors_are_one_line_with_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("错误：命令用法不正确：")


def test_main_success_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["min-contribution", "--retirement-year", "2039"]) == 0
    assert json.loads(capsys.readouterr().out) == {"months": 240}
