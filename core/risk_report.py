"""The rules watch themselves (issue 16; the notice's "keep monitoring the rules and report gaps"):
per rule and month, how many hits, how many confirmed and cleared, the amounts recovered in the
cases they led to, and the share confirmed; and for supervisors, the rules that never hit or whose
hits are mostly cleared (candidates to retune or retire).

Read from ``risk_hit`` (written by the verification case as hits join it and as it is decided)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel
from sqlmodel import col, select

from core.db import Database
from models.rules import RiskCode
from models.tables import RiskHit
from policy.risk_scan import RULE_LABELS

#: A rule whose settled hits are at least this many and mostly cleared is shown to supervisors.
MIN_SETTLED_FOR_WATCH = 3
MOSTLY_CLEARED = Decimal("0.7")


def known_rules() -> dict[str, str]:
    """Every rule with its label: the scans' and the claim's own checks (their hits join cases
    when a confirmed claim is referred)."""
    return {**RULE_LABELS, **{c.value: c.label for c in RiskCode}}


class RuleMonth(BaseModel):
    rule: str
    label: str
    month: str
    hits: int
    confirmed: int
    cleared: int
    pending: int
    recovered: Decimal
    confirmed_share: Decimal | None  # of the settled hits; None while nothing is settled


class RuleWatch(BaseModel):
    rule: str
    label: str
    hits: int
    confirmed: int
    cleared: int
    confirmed_share: Decimal | None
    concern: str  # never_hit | mostly_cleared
    concern_zh: str


def _share(confirmed: int, cleared: int) -> Decimal | None:
    settled = confirmed + cleared
    return (Decimal(confirmed) / settled).quantize(Decimal("0.01")) if settled else None


async def rule_report(
    db: Database, month_from: str | None = None, month_to: str | None = None
) -> list[RuleMonth]:
    """One row per rule and month with hits. Recovered: what each case the rule hit has recovered,
    counted once per case and rule."""
    q = select(RiskHit)
    if month_from:
        q = q.where(col(RiskHit.month) >= month_from)
    if month_to:
        q = q.where(col(RiskHit.month) <= month_to)
    async with db.session() as s:
        rows = (await s.exec(q)).all()
    labels = known_rules()
    acc: dict[tuple[str, str], _Acc] = {}
    for r in rows:
        a = acc.setdefault((r.rule, r.month), _Acc())
        a.hits += 1
        if r.outcome == "confirmed":
            a.confirmed += 1
        elif r.outcome == "cleared":
            a.cleared += 1
        a.cases[r.case_id] = r.recovered
    return [
        RuleMonth(
            rule=rule,
            label=labels.get(rule, rule),
            month=month,
            hits=a.hits,
            confirmed=a.confirmed,
            cleared=a.cleared,
            pending=a.hits - a.confirmed - a.cleared,
            recovered=sum(a.cases.values(), Decimal("0")),
            confirmed_share=_share(a.confirmed, a.cleared),
        )
        for (rule, month), a in sorted(acc.items())
    ]


@dataclass
class _Acc:
    hits: int = 0
    confirmed: int = 0
    cleared: int = 0
    cases: dict[str, Decimal] = field(default_factory=dict)


async def rule_watch(db: Database, since_month: str | None = None) -> list[RuleWatch]:
    """Rules that never hit since ``since_month``, and rules whose settled hits are mostly cleared."""
    rows = await rule_report(db, since_month)
    labels = known_rules()
    total: dict[str, list[int]] = {}
    for r in rows:
        t = total.setdefault(r.rule, [0, 0, 0])
        t[0] += r.hits
        t[1] += r.confirmed
        t[2] += r.cleared
    out = []
    for rule, label in sorted(labels.items()):
        hits, confirmed, cleared = total.get(rule, [0, 0, 0])
        share = _share(confirmed, cleared)
        if hits == 0:
            out.append(
                RuleWatch(
                    rule=rule,
                    label=label,
                    hits=0,
                    confirmed=0,
                    cleared=0,
                    confirmed_share=None,
                    concern="never_hit",
                    concern_zh="统计期内从未命中：阈值可能过严或数据缺失",
                )
            )
        elif (
            confirmed + cleared >= MIN_SETTLED_FOR_WATCH and share is not None and 1 - share >= MOSTLY_CLEARED
        ):
            out.append(
                RuleWatch(
                    rule=rule,
                    label=label,
                    hits=hits,
                    confirmed=confirmed,
                    cleared=cleared,
                    confirmed_share=share,
                    concern="mostly_cleared",
                    concern_zh=f"已核查的命中中{(1 - share) * 100:.0f}%被排除：阈值可能过宽",
                )
            )
    return out
