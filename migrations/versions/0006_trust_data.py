"""trust in the data: one benefit per person, replay-proof callbacks, audit hash over every column

- ``uq_case_open_claim`` and ``uq_case_active_period``: unique partial indexes on the applicant key
  of open claims and of active benefit periods (issue 12 item 5). Creating them fails if a person
  already holds two: that data must be cleared by hand first (it means two payment orders a month).
- ``callback_nonce``: nonces of signed callbacks until their window has passed (item 6).
- ``audit_log.hash_version``: existing entries are version 1 (their hash covers fewer columns);
  new entries are version 2 over every column (item 11; why not re-hash: core/audit.py).

Revision ID: 0006
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_CLAIM_WHERE = "case_type = 'benefit_claim' AND status NOT IN ('approved', 'closed')"
ACTIVE_PERIOD_WHERE = "case_type = 'benefit_period' AND status <> 'closed'"
UNIQUE = [("uq_case_open_claim", OPEN_CLAIM_WHERE), ("uq_case_active_period", ACTIVE_PERIOD_WHERE)]


def upgrade() -> None:
    for name, where in UNIQUE:
        clause = sa.text(where)
        op.create_index(
            name, "case_record", ["applicant_key"], unique=True, postgresql_where=clause, sqlite_where=clause
        )
    op.create_table(
        "callback_nonce",
        sa.Column("system", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("system", "nonce"),
    )
    op.create_index("ix_callback_nonce_expires_at", "callback_nonce", ["expires_at"])
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("hash_version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash_version")
    op.drop_index("ix_callback_nonce_expires_at", table_name="callback_nonce")
    op.drop_table("callback_nonce")
    for name, _ in UNIQUE:
        op.drop_index(name, table_name="case_record")
