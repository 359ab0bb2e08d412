"""Scenarios whose subject is still being written by other engineers: ``replay`` (``uiflow audit
replay``), ``payday`` (the benefit-period payroll) and ``console`` (the staff console). Each one
checks whether its subject has landed and, if not, says so plainly instead of failing: an honest
"not yet" is a result too."""

from __future__ import annotations

import importlib.util


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def replay_missing() -> str | None:
    missing = [m for m in ("cli.audit_cmd", "core.replay") if not module_exists(m)]
    if missing:
        return f"`uiflow audit replay` has not landed yet (missing: {', '.join(missing)})"
    return None


def payday_missing() -> str | None:
    missing = [m for m in ("workflows.benefit_period", "workflows.payday") if not module_exists(m)]
    if missing:
        return f"the benefit-period payroll has not landed yet (missing: {', '.join(missing)})"
    return None


def console_missing() -> str | None:
    if not module_exists("api.console") or not module_exists("api.console.fixtures"):
        return "the staff console (api/console/ with its bulk loader fixtures.py) has not landed yet"
    try:
        from api.console import fixtures
    except ImportError as e:
        return f"the staff console does not import yet ({e})"
    if not hasattr(fixtures, "insert_synthetic_cases"):
        return "the console's bulk loader insert_synthetic_cases has not landed yet"
    return None
