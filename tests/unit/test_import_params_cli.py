"""``uiflow import periods`` and ``uiflow params confirm`` refuse bad invocations with one Chinese
line and exit 2, before touching a database (the flows themselves: tests/workflow/
test_import_periods.py, test_param_confirmation.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app


def test_import_of_a_missing_file_is_refused(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["import", "periods", str(tmp_path / "none.csv"), "--by", "ops.nmg"])
    assert r.exit_code == 2 and "找不到文件" in r.output


def test_params_confirm_needs_a_real_date_and_a_source() -> None:
    name = "minimum_wage.category1_monthly"
    r = CliRunner().invoke(
        app,
        [
            "params",
            "confirm",
            name,
            "--effective-from",
            "2025-13-01",
            "--by",
            "ops.nmg",
            "--source",
            "内政办发",
        ],
    )
    assert r.exit_code == 2 and "日期" in r.output
    r = CliRunner().invoke(
        app, ["params", "confirm", name, "--effective-from", "2025-12-01", "--by", "ops.nmg", "--source", "x"]
    )
    assert r.exit_code == 2 and "核实依据" in r.output


def test_both_groups_are_listed() -> None:
    out = CliRunner().invoke(app, ["--help"]).output
    assert "import" in out and "params" in out
