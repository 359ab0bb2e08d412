"""Every workflow the worker runs. Each case module lists its workflow classes in ``WORKFLOWS``;
a module listed here but not yet written is skipped (case types land one by one)."""

from __future__ import annotations

import importlib

WORKFLOW_MODULES = [
    "workflows.benefit_claim",
    "workflows.benefit_period",
    "workflows.payday",
    "workflows.stop_reason_dispute",
    "workflows.archiver",
]


def _load() -> list[type]:
    found: list[type] = []
    for name in WORKFLOW_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        found.extend(module.WORKFLOWS)
    return found


ALL_WORKFLOWS: list[type] = _load()
