"""outside events that stop a benefit period (issue 14 item 2): pushed or found by the re-check
before a pay day, one row per system and event id

Revision ID: 0012
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.sqltypes

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "period_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", S(length=32), nullable=False),
        sa.Column("event_id", S(length=128), nullable=False),
        sa.Column("event_type", S(length=40), nullable=False),
        sa.Column("source", S(length=16), nullable=False),
        sa.Column("applicant_key", S(length=64), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        sa.Column("case_id", S(length=128), nullable=True),
        sa.Column("region_code", S(length=6), nullable=True),
        sa.Column("status", S(length=16), nullable=False),
        sa.Column("effective_from", S(length=7), nullable=True),
        sa.Column("recovery_months", models.sqltypes.json_type(), nullable=False),
        sa.Column("recovery_amount", models.sqltypes.ExactDecimal(), nullable=False),
        sa.Column("note_zh", S(length=500), nullable=False),
        sa.Column("payday_id", S(length=64), nullable=True),
        sa.Column("received_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "event_id", name="uq_period_event"),
    )
    op.create_index("ix_period_event_region", "period_event", ["region_code", "received_at"])
    op.create_index("ix_period_event_applicant_key", "period_event", ["applicant_key"])
    op.create_index("ix_period_event_case_id", "period_event", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_period_event_case_id", table_name="period_event")
    op.drop_index("ix_period_event_applicant_key", table_name="period_event")
    op.drop_index("ix_period_event_region", table_name="period_event")
    op.drop_table("period_event")
