"""Operator confirmation of UNCONFIRMED parameter values (issue 14: "unconfirmed parameters do not
pay money silently").

Why: domain.md marks figures it could not confirm (the 2025-12 minimum wage, the medical
standards). They are dated parameters, so the system can compute with them, but in prod mode no
money goes out on an unconfirmed figure until an operator has checked it against the document and
said so (``uiflow params confirm``, written to ``parameter_confirmation`` and the audit chain).
The confirmation names the exact value: an operator file that changes the figure needs confirming
again. In dev and test mode (``Settings.confirmation_required`` false) the packaged values pay, so
the demo runs; the pay-day report still lists what would wait."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import audit
from models.rules import YearMonth
from models.tables import ParameterConfirmation
from policy import entitlement
from policy.errors import PolicyError
from policy.parameters import ParameterEntry, ParameterSet

Confirmed = frozenset[tuple[str, date, str]]
UNCONFIRMED = "params.unconfirmed"


def value_text(e: ParameterEntry) -> str:
    """The value as it is confirmed and compared (JSON text of the parameter file's value)."""
    return json.dumps(e.as_dict()["value"], ensure_ascii=False)


def entry_label(e: ParameterEntry) -> str:
    """``name@effective_from``: how a waiting reason names the value (no personal data)."""
    return f"{e.name}@{e.effective_from.isoformat()}"


async def confirmations(session: AsyncSession) -> Confirmed:
    rows = (await session.exec(select(ParameterConfirmation))).all()
    return frozenset((r.name, r.effective_from, r.value) for r in rows)


def awaiting(entries: Iterable[ParameterEntry], confirmed: Confirmed) -> list[ParameterEntry]:
    """The entries marked unconfirmed that no operator has confirmed with this value."""
    return [
        e for e in entries if not e.confirmed and (e.name, e.effective_from, value_text(e)) not in confirmed
    ]


def benefit_gate(params: ParameterSet, confirmed: Confirmed) -> Callable[[int, YearMonth], str | None]:
    """For a benefit month (index, pay month): the first value it waits for (``name@date``), or
    None when every value its amount uses is confirmed. Cached per distinct month and rate."""
    cache: dict[tuple[int, YearMonth], str | None] = {}

    def why(index: int, month: YearMonth) -> str | None:
        key = (min(index, 13), month)  # months 13+ share a rate
        if key not in cache:
            try:
                used = entitlement.benefit_amount(index, month, params).entries
            except PolicyError:
                cache[key] = None  # the amount itself fails closed elsewhere
            else:
                waiting = awaiting(used, confirmed)
                cache[key] = entry_label(waiting[0]) if waiting else None
        return cache[key]

    return why


def reason_zh(label: str, count: int) -> str:
    name, _, since = label.partition("@")
    return (
        f"{count}笔待发放：所用参数“{name}”（自{since}起的取值）在政策依据中尚未确认，"
        "须由运维人员核实后执行“uiflow params confirm”确认，确认前暂缓发放"
    )


async def confirm(
    session: AsyncSession, params: ParameterSet, name: str, effective_from: date, *, by: str, source: str
) -> ParameterConfirmation:
    """Record an operator's confirmation of the value of ``name`` in force from ``effective_from``
    (the caller commits). Refused for an unknown name or date, or a value already confirmed."""
    entry = next((e for e in params.history(name) if e.effective_from == effective_from), None)
    if entry is None:
        raise PolicyError("params.no_value", f"参数“{name}”没有自{effective_from.isoformat()}起的取值")
    if entry.confirmed:
        raise PolicyError(
            "params.already_confirmed", f"参数“{name}”自{effective_from.isoformat()}起的取值已是确认值"
        )
    value = value_text(entry)
    if (name, effective_from, value) in await confirmations(session):
        raise PolicyError(
            "params.already_confirmed", f"参数“{name}”自{effective_from.isoformat()}起的取值已确认过"
        )
    now = datetime.now(UTC)
    row = ParameterConfirmation(
        name=name,
        effective_from=effective_from,
        value=value,
        source=source,
        confirmed_by=by,
        confirmed_at=now,
    )
    session.add(row)
    await audit.append(
        session,
        actor=by,
        action="params.confirmed",
        actor_role="ops_engineer",
        payload={
            "name": name,
            "effective_from": effective_from.isoformat(),
            "value": value,
            "source": source,
        },
        detail={"name": name, "effective_from": effective_from.isoformat(), "value": value, "source": source},
        at=now,
    )
    return row
