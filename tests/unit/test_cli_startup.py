"""``uiflow`` starts fast: the root imports its sub-command groups only when they are called, so a
calculator call or ``--help`` does not import Temporal, FastAPI or SQLAlchemy (issue 19)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cli.main import LAZY_GROUPS, app

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("temporalio", "fastapi", "sqlalchemy", "sqlmodel", "uvicorn", "rich.progress", "asyncio")

_PROBE = """
import json, sys
from cli.main import app
try:
    app({args!r})
except SystemExit as e:
    code = e.code
print("\\n" + json.dumps({{"exit": code, "loaded": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def _run_in_fresh_interpreter(args: list[str]) -> tuple[str, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args, heavy=HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    *out, last = proc.stdout.rstrip().splitlines()
    return "\n".join(out), json.loads(last)


def test_a_policy_calculator_imports_no_temporal_fastapi_or_sqlalchemy() -> None:
    out, probe = _run_in_fresh_interpreter(["policy", "review-deadline", "--received", "2025-01-20"])
    assert probe["exit"] == 0
    assert '"deadline": "2025-02-08"' in out
    assert probe["loaded"] == []


def test_help_lists_every_group_without_importing_them() -> None:
    out, probe = _run_in_fresh_interpreter(["--help"])
    assert probe["exit"] == 0
    for name in LAZY_GROUPS:
        assert name in out
    assert probe["loaded"] == []


def test_a_lazy_group_is_loaded_when_called() -> None:
    r = CliRunner().invoke(app, ["audit", "--help"])
    assert r.exit_code == 0, r.output
    assert "replay" in r.output and "timeline" in r.output
    r = CliRunner().invoke(app, ["policy", "working-days", "--start", "2025-02-07", "--end", "2025-02-09"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["count"] == 2
    r = CliRunner().invoke(app, ["no-such-group"])
    assert r.exit_code == 2
