"""risk hits: each scan or claim hit in its verification case, with rule version and outcome

The rules' own report (issue 16: hits, confirmed, cleared, amounts recovered per rule and month)
reads this table; the index serves that grouping.

Revision ID: 0008
Revises: 0007 (the lead re-chains at merge)
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.sqltypes

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_hit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("rule_version", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("found_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("explanation", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("recovered", models.sqltypes.ExactDecimal(), nullable=False),
        sa.Column("settled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "seq", name="uq_risk_hit_case_seq"),
    )
    op.create_index("ix_risk_hit_case_id", "risk_hit", ["case_id"])
    op.create_index("ix_risk_hit_rule_month", "risk_hit", ["rule", "month"])


def downgrade() -> None:
    op.drop_index("ix_risk_hit_rule_month", table_name="risk_hit")
    op.drop_index("ix_risk_hit_case_id", table_name="risk_hit")
    op.drop_table("risk_hit")
