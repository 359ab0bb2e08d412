"""A generated legacy-recipients file for ``uiflow import periods`` (docs/import.md): ``n`` rows,
of which ``bad`` carry one distinct fault each (the kinds below, in turn). Every good row still has
months to pay after ``today``; a third are on 续发 and were receiving on 2024-12-31.

    .venv/bin/python -m tests.import_file 1000 20 /tmp/legacy.csv [--fixed /tmp/legacy-fixed.csv]
"""

from __future__ import annotations

import csv
import io
import random
import sys
from datetime import date
from pathlib import Path

from core.period_import import COLUMNS
from policy.identity import resident_id_check_char

DISTRICTS = ("150102", "150103", "150104", "150105", "150202", "150203")


_USED: set[str] = set()


def id_number(rng: random.Random, birth: date, male: bool, region: str = "150102") -> str:
    """A valid number (GB 11643 check character), distinct within the process."""
    while True:
        seq = rng.randrange(0, 500) * 2 + (1 if male else 0)
        first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
        if first17 not in _USED:
            _USED.add(first17)
            return first17 + resident_id_check_char(first17)


def good_row(rng: random.Random, i: int, today: date) -> dict[str, str]:
    """A valid row whose next month to pay is this month or later."""
    male = i % 2 == 0
    region = DISTRICTS[i % len(DISTRICTS)]
    if i % 3 == 0:
        # On 续发 since 2025-01, receiving on 2024-12-31: a man born 1966-11 (R_new 2027-05).
        birth = date(1966, 11, 1 + i % 28)
        start = date(2024, 1, 15)
        paid = (today.year - 2024) * 12 + today.month - 1  # through last month
        return _row(rng, i, birth, True, region, "male", start, 12, paid, "continuation", "2027-05", "yes")
    birth = date(1975 + i % 20, 1 + i % 12, 1 + i % 28)
    first = (today.year * 12 + today.month - 1) - (1 + i % 6)  # began 1..6 months ago
    start = date(first // 12, first % 12 + 1, 10)
    paid = (today.year * 12 + today.month - 1) - first  # through last month
    cat = "male" if male else ("female-55" if i % 4 == 1 else "female-50")
    return _row(rng, i, birth, male, region, cat, start, 12 if i % 5 else 24, paid, "none", "", "no")


def _row(
    rng: random.Random,
    i: int,
    birth: date,
    male: bool,
    region: str,
    category: str,
    start: date,
    ordinary: int,
    paid: int,
    cont: str,
    through: str,
    receiving: str,
) -> dict[str, str]:
    return {
        "id_number": id_number(rng, birth, male, region if i % 7 else "110105"),
        "name": f"导入{i:05d}",
        "phone": f"139{rng.randrange(10**8):08d}",
        "bank_account": f"6217{rng.randrange(10**15):015d}",
        "bank_name": "中国建设银行",
        "region_code": region,
        "retirement_category": category,
        "benefit_start": start.isoformat(),
        "ordinary_months": str(ordinary),
        "months_paid": str(paid),
        "paid_total": f"{paid * 2156.5:.2f}",
        "continuation": cont,
        "continuation_through": through,
        "receiving_on_2024_12_31": receiving,
    }


# One fault per kind: (what it breaks, how). The duplicate needs the row before it.
def _faults(today: date) -> list[tuple[str, object]]:
    return [
        ("id_number", lambda r: r["id_number"][:17] + ("0" if r["id_number"][17] != "0" else "1")),
        ("region_code", lambda r: "159999"),
        ("region_code", lambda r: "150100"),  # a league, not a district
        ("retirement_category", lambda r: ""),
        ("benefit_start", lambda r: "2025-02-30"),
        ("benefit_start", lambda r: date(today.year + 1, 1, 1).isoformat()),
        ("months_paid", lambda r: "x"),
        ("months_paid", lambda r: "999"),
        ("ordinary_months", lambda r: "30"),
        ("paid_total", lambda r: "-1"),
        ("paid_total", lambda r: "12.345"),
        ("continuation", lambda r: "maybe"),
        ("continuation_through", lambda r: "2030-01" if r["continuation"] == "none" else ""),
        ("receiving_on_2024_12_31", lambda r: "yes" if r["receiving_on_2024_12_31"] == "no" else "no"),
        ("receiving_on_2024_12_31", lambda r: "perhaps"),
        ("phone", lambda r: "12345"),
        ("bank_account", lambda r: "12ab"),
        ("name", lambda r: ""),
        ("months_paid", lambda r: str(int(r["ordinary_months"]) + 40)),
        ("duplicate", None),
    ]


def generate(n: int, bad: int, today: date, seed: int = 7) -> tuple[str, str, list[int]]:
    """(file with ``bad`` faulty rows, the same file fixed, the faulty rows' line numbers)."""
    rng = random.Random(seed)
    _USED.clear()
    rows = [good_row(rng, i, today) for i in range(n)]
    fixed = [dict(r) for r in rows]
    faults = _faults(today)
    step = max(1, n // max(bad, 1))
    lines = []
    for k in range(bad):
        idx = min(n - 1, 1 + k * step)
        col, fn = faults[k % len(faults)]
        if col == "duplicate":
            rows[idx]["id_number"] = rows[idx - 1]["id_number"]
        else:
            assert callable(fn)
            rows[idx][col] = str(fn(rows[idx]))
        lines.append(idx + 2)  # header is line 1
    return _csv(rows), _csv(fixed), lines


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


if __name__ == "__main__":
    n, bad, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    text, fixed, _ = generate(n, bad, date.today())
    Path(path).write_text(text, encoding="utf-8")
    if "--fixed" in sys.argv:
        Path(sys.argv[sys.argv.index("--fixed") + 1]).write_text(fixed, encoding="utf-8")
