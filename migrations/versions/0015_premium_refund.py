"""premium refund ledger: one row per person and month refunded (never twice)

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.sqltypes

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "premium_refund_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("applicant_key", _s(64), nullable=False),
        sa.Column("month", _s(7), nullable=False),
        sa.Column("case_id", _s(128), nullable=False),
        sa.Column("region_code", _s(6), nullable=False),
        sa.Column("self_paid", models.sqltypes.ExactDecimal(), nullable=False),
        sa.Column("standard", models.sqltypes.ExactDecimal(), nullable=False),
        sa.Column("amount", models.sqltypes.ExactDecimal(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("applicant_key", "month", name="uq_premium_refund_person_month"),
    )
    op.create_index("ix_premium_refund_case", "premium_refund_line", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_premium_refund_case", table_name="premium_refund_line")
    op.drop_table("premium_refund_line")
