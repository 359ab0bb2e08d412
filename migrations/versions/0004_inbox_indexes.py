"""indexes for the inbox and case lists at scale (measured by `uiflow bench list` at 1,000,000 cases)

The banner inbox went 70 → 24 ms, a league's overdue list 79 → 31 ms, status counts 307 → 49 ms,
the supervisor's inbox 623 → 29 ms (docs/benchmarks.md). Partial indexes keep them small: they
cover only open, overdue or escalated cases. The predicates match the queries in
api/routes/cases.py (``escalated IS TRUE``, ``overdue = true``, ``closed_at IS NULL``).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_case_open_stage", ["region_code", "stage", "deadline"], "closed_at IS NULL"),
    ("ix_case_overdue_region", ["region_code", "deadline"], "overdue"),
    ("ix_case_escalated_region", ["region_code", "deadline"], "escalated IS TRUE"),
    ("ix_case_deadline_order", ["deadline", "case_id"], None),
]


def upgrade() -> None:
    for name, columns, where in INDEXES:
        clause = sa.text(where) if where else None
        op.create_index(name, "case_record", columns, postgresql_where=clause, sqlite_where=clause)


def downgrade() -> None:
    for name, _, _ in INDEXES:
        op.drop_index(name, table_name="case_record")
