"""Scheduled risk scans (notice item 7; issue 16): rules over everyone claiming or receiving, not one
claim at a time.

Why a second set of rules beside ``policy/risk.py``: a claim's own checks see one person; fraud by
intermediaries, mass separations and events while receiving show only across people and over time.
Each rule returns hits that explain themselves in Chinese with their figures and carry the rule's
version (its revision here and the parameter set's version), so a hit can be re-read later and the
rule's record judged (hits, confirmed, cleared). The thresholds are dated parameters, UNCONFIRMED
placeholders until the Inner Mongolia notice or an operating manual gives them (domain.md G)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from policy.parameters import ParameterSet, resolve

#: Each rule's revision: bump it when the rule's logic (not its thresholds) changes.
RULES: dict[str, int] = {
    "scan.mass_separation": 1,
    "scan.recipient_ratio": 1,
    "scan.short_contribution": 1,
    "scan.duplicate_cross_province": 1,
    "scan.duplicate_in_region": 1,
    "scan.contributions_while_receiving": 1,
    "scan.pension_while_receiving": 1,
    "scan.death_while_receiving": 1,
    "scan.shared_contact": 1,
    "scan.short_term_burst": 1,
}
RULE_LABELS: dict[str, str] = {
    "scan.mass_separation": "同一单位集中离职申领",
    "scan.recipient_ratio": "领金人数占单位参保人数比例过高",
    "scan.short_contribution": "连续缴费不足3个月申领",
    "scan.duplicate_cross_province": "跨省重复领取",
    "scan.duplicate_in_region": "区内重复领取",
    "scan.contributions_while_receiving": "领金期间出现缴费（再就业未报告）",
    "scan.pension_while_receiving": "领金期间领取养老待遇",
    "scan.death_while_receiving": "领金期间死亡",
    "scan.shared_contact": "多人共用联系方式或代办人（疑似中介）",
    "scan.short_term_burst": "同一单位短期参保后集中申领（短期参保骗保）",
}
CONTACT_LABELS = {"phone": "联系电话", "account": "银行账户", "address": "居住地址", "agent": "代办人"}


@dataclass(frozen=True, slots=True)
class ScanPerson:
    """One person as the scan sees them. ``key`` names them without personal data (the applicant
    key); the contact fields are compared, never shown in a hit."""

    key: str
    employer: str
    stop_date: date
    consecutive_months: int
    claimed: bool
    region: str = ""
    benefit_since: date | None = None
    periods_in_region: int = 0
    receiving_elsewhere: bool = False
    elsewhere_province: str | None = None
    pension_since: date | None = None
    died_on: date | None = None
    contribution_months_after: tuple[str, ...] = ()  # "YYYY-MM" months paid after benefit_since
    phone: str | None = None
    account: str | None = None
    address: str | None = None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class ScanEmployer:
    code: str
    headcount: int


@dataclass(frozen=True, slots=True)
class ScanHit:
    rule: str
    rule_version: str
    explanation_zh: str
    figures: dict[str, str]
    people: tuple[str, ...]
    employer: str | None = None
    #: What groups hits into one verification case: the same group joins the same case.
    group: str = ""


@dataclass(frozen=True, slots=True)
class ScanResult:
    hits: tuple[ScanHit, ...]
    parameter_version: str
    people: int
    flagged: frozenset[str] = field(default_factory=frozenset)


def _version(rule: str, p: ParameterSet) -> str:
    return f"{rule}@r{RULES[rule]}/{p.version}"


def _pct(n: int, d: int) -> str:
    return str((Decimal(n) * 100 / Decimal(d)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)) if d else "—"


def _receiving(p: ScanPerson, as_of: date) -> bool:
    return p.benefit_since is not None and p.benefit_since <= as_of


def _densest_window(group: list[ScanPerson], days: int) -> list[ScanPerson]:
    """The most people whose separations fall within one window of ``days`` consecutive days."""
    group = sorted(group, key=lambda x: x.stop_date)
    best: list[ScanPerson] = []
    for i, first in enumerate(group):
        window = [x for x in group[i:] if x.stop_date <= first.stop_date + timedelta(days=days - 1)]
        if len(window) > len(best):
            best = window
    return best


def mass_separation(
    people: Sequence[ScanPerson], employers: dict[str, ScanEmployer], as_of: date, p: ParameterSet
) -> list[ScanHit]:
    """At one employer, at least N claimants separating within a window of W days, and that many
    being at least a share of its insured headcount (a big employer's ordinary turnover is not a
    mass separation)."""
    days = p.integer("risk.scan.mass_separation.window_days", as_of)
    least = p.integer("risk.scan.mass_separation.min_people", as_of)
    share = p.decimal("risk.scan.mass_separation.min_share", as_of)
    rule = "scan.mass_separation"
    by: dict[str, list[ScanPerson]] = defaultdict(list)
    for x in people:
        if x.claimed:
            by[x.employer].append(x)
    out = []
    for code, group in sorted(by.items()):
        best = _densest_window(group, days)
        head = employers[code].headcount if code in employers else 0
        if len(best) >= least and head > 0 and Decimal(len(best)) / head >= share:
            start, end = best[0].stop_date, best[-1].stop_date
            out.append(
                ScanHit(
                    rule,
                    _version(rule, p),
                    f"用人单位{code}在{start.isoformat()}至{end.isoformat()}（{days}日窗口）内有{len(best)}人离职并申领，"
                    f"占参保人数{head}人的{_pct(len(best), head)}%，达到{least}人且{share * 100}%的核查标准",
                    {
                        "people": str(len(best)),
                        "headcount": str(head),
                        "window_days": str(days),
                        "from": start.isoformat(),
                        "to": end.isoformat(),
                    },
                    tuple(x.key for x in best),
                    code,
                    group=f"employer-{code}",
                )
            )
    return out


def recipient_ratio(
    people: Sequence[ScanPerson], employers: dict[str, ScanEmployer], as_of: date, p: ParameterSet
) -> list[ScanHit]:
    """The notice's ratio measured right: people *receiving* on the scan date whose last employer
    is this one, over the employer's insured headcount (not claims in a date window)."""
    ratio = p.decimal("risk.scan.recipient_ratio.threshold", as_of)
    least = p.integer("risk.scan.recipient_ratio.min_recipients", as_of)
    rule = "scan.recipient_ratio"
    by: dict[str, list[str]] = defaultdict(list)
    for x in people:
        if _receiving(x, as_of):
            by[x.employer].append(x.key)
    out = []
    for code, keys in sorted(by.items()):
        head = employers[code].headcount if code in employers else 0
        if len(keys) < least or head <= 0 or Decimal(len(keys)) / head < ratio:
            continue
        out.append(
            ScanHit(
                rule,
                _version(rule, p),
                f"用人单位{code}现有领金人员{len(keys)}人，参保人数{head}人，"
                f"领金比例{_pct(len(keys), head)}%，达到{ratio * 100}%的核查标准",
                {"recipients": str(len(keys)), "headcount": str(head), "ratio": str(ratio)},
                tuple(keys),
                code,
                group=f"employer-{code}",
            )
        )
    return out


def per_person(people: Sequence[ScanPerson], as_of: date, p: ParameterSet) -> list[ScanHit]:
    """The rules that look at one person at a time (short contributions; duplicates; events while
    receiving)."""
    minimum = p.integer("risk.short_contribution.min_consecutive_months", as_of)
    out = []

    def hit(rule: str, x: ScanPerson, text: str, **figures: object) -> None:
        out.append(
            ScanHit(
                rule,
                _version(rule, p),
                text,
                {k: str(v) for k, v in figures.items()},
                (x.key,),
                x.employer,
                group=f"person-{x.key}",
            )
        )

    for x in people:
        receiving = _receiving(x, as_of)
        if x.claimed and x.consecutive_months < minimum:
            hit(
                "scan.short_contribution",
                x,
                f"申领前连续缴费{x.consecutive_months}个月，不足{minimum}个月",
                months=x.consecutive_months,
                threshold=minimum,
            )
        if (x.claimed or receiving) and x.receiving_elsewhere:
            where = x.elsewhere_province or "外省"
            hit(
                "scan.duplicate_cross_province",
                x,
                f"跨省比对显示正在{where}（省级代码）领取失业保险金，同时在本区申领或领取",
                province=where,
            )
        if x.periods_in_region > 1:
            hit(
                "scan.duplicate_in_region",
                x,
                f"区内同时有{x.periods_in_region}个发放中的失业保险金案件",
                periods=x.periods_in_region,
            )
        if not receiving or x.benefit_since is None:
            continue
        since = x.benefit_since
        paid = sorted(m for m in x.contribution_months_after if m >= f"{since.year:04d}-{since.month:02d}")
        if paid:
            hit(
                "scan.contributions_while_receiving",
                x,
                f"自{since.isoformat()}起领取失业保险金，{paid[0]}起又有缴费记录{len(paid)}个月，疑似再就业未报告",
                since=since.isoformat(),
                first_month=paid[0],
                months=len(paid),
            )
        if x.pension_since is not None and x.pension_since >= since:
            hit(
                "scan.pension_while_receiving",
                x,
                f"自{since.isoformat()}起领取失业保险金，{x.pension_since.isoformat()}起领取基本养老金",
                since=since.isoformat(),
                pension_since=x.pension_since.isoformat(),
            )
        if x.died_on is not None and x.died_on >= since:
            hit(
                "scan.death_while_receiving",
                x,
                f"自{since.isoformat()}起领取失业保险金，民政记录显示已于{x.died_on.isoformat()}死亡",
                since=since.isoformat(),
                died_on=x.died_on.isoformat(),
            )
    return out


def shared_contacts(people: Sequence[ScanPerson], as_of: date, p: ParameterSet) -> list[ScanHit]:
    """Claims sharing a phone, a bank account, an address or an agent across at least N people: an
    intermediary. The shared value itself is never written into the hit (personal data)."""
    least = p.integer("risk.scan.shared_contact.min_people", as_of)
    rule = "scan.shared_contact"
    out = []
    for attr, label in CONTACT_LABELS.items():
        by: dict[str, set[str]] = defaultdict(set)
        for x in people:
            v = getattr(x, attr)
            if v and (x.claimed or _receiving(x, as_of)):
                by[v].add(x.key)
        for n, (_, keys) in enumerate(sorted(by.items(), key=lambda kv: sorted(kv[1]))):
            if len(keys) >= least:
                ordered = tuple(sorted(keys))
                out.append(
                    ScanHit(
                        rule,
                        _version(rule, p),
                        f"{len(keys)}名申领人登记同一{label}，达到{least}人的核查标准，疑似中介代办",
                        {"people": str(len(keys)), "contact": attr, "threshold": str(least)},
                        ordered,
                        group=f"contact-{attr}-{n}",
                    )
                )
    return out


def short_term_burst(
    people: Sequence[ScanPerson], employers: dict[str, ScanEmployer], as_of: date, p: ParameterSet
) -> list[ScanHit]:
    """At one employer, at least N people insured for only a few months separating and claiming
    within a window (短期参保骗保)."""
    most = p.integer("risk.scan.short_term.max_months", as_of)
    least = p.integer("risk.scan.short_term.min_people", as_of)
    days = p.integer("risk.scan.short_term.window_days", as_of)
    rule = "scan.short_term_burst"
    by: dict[str, list[ScanPerson]] = defaultdict(list)
    for x in people:
        if x.claimed and x.consecutive_months <= most:
            by[x.employer].append(x)
    out = []
    for code, group in sorted(by.items()):
        best = _densest_window(group, days)
        if len(best) >= least:
            head = employers[code].headcount if code in employers else 0
            out.append(
                ScanHit(
                    rule,
                    _version(rule, p),
                    f"用人单位{code}有{len(best)}人参保不超过{most}个月即在{days}日内集中离职申领"
                    f"（单位参保人数{head}人）",
                    {
                        "people": str(len(best)),
                        "max_months": str(most),
                        "window_days": str(days),
                        "headcount": str(head),
                    },
                    tuple(x.key for x in best),
                    code,
                    group=f"employer-{code}",
                )
            )
    return out


def scan(
    people: Iterable[ScanPerson],
    employers: Iterable[ScanEmployer],
    as_of: date,
    params: ParameterSet | None = None,
) -> ScanResult:
    """Every rule over everyone; the hits in rule order."""
    p = resolve(params)
    ppl = list(people)
    emp = {e.code: e for e in employers}
    hits = [
        *mass_separation(ppl, emp, as_of, p),
        *recipient_ratio(ppl, emp, as_of, p),
        *per_person(ppl, as_of, p),
        *shared_contacts(ppl, as_of, p),
        *short_term_burst(ppl, emp, as_of, p),
    ]
    flagged = frozenset(k for h in hits for k in h.people)
    return ScanResult(hits=tuple(hits), parameter_version=p.version, people=len(ppl), flagged=flagged)


def group_hits(hits: Sequence[ScanHit]) -> list[list[int]]:
    """Hits that share a person or an employer belong to one verification case (a ring's shared
    agent, its short-term burst and its employer's ratio are one matter). Returns hit indexes per
    group, groups in order of their first hit."""
    parent = list(range(len(hits)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, h in enumerate(hits):
        for k in (
            *h.people,
            *((f"employer:{h.employer}",) if h.employer and h.rule != "scan.short_contribution" else ()),
        ):
            if k in owner:
                parent[find(i)] = find(owner[k])
            else:
                owner[k] = i
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(hits)):
        groups[find(i)].append(i)
    return sorted(groups.values(), key=lambda g: g[0])
