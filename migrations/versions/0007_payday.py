"""pay day (issue 13): payment schedule rows, sealed payees, pay-day runs, recovery tasks; the
payment order learns its run, chunk and bank batch

Revision ID: 0007
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.sqltypes

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = sqlmodel.sql.sqltypes.UTCDateTime
D = models.sqltypes.ExactDecimal


def upgrade() -> None:
    op.create_table(
        "payment_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", S(length=128), nullable=False),
        sa.Column("region_code", S(length=6), nullable=False),
        sa.Column("applicant_key", S(length=64), nullable=False),
        sa.Column("pay_month", S(length=7), nullable=False),
        sa.Column("month_index", sa.Integer(), nullable=False),
        sa.Column("basis", S(length=16), nullable=False),
        sa.Column("amount", D(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("state", S(length=16), nullable=False),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("payday_id", S(length=64), nullable=True),
        sa.Column("chunk", sa.Integer(), nullable=True),
        sa.Column("order_key", S(length=160), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "pay_month", name="uq_schedule_case_month"),
    )
    op.create_index("ix_schedule_due", "payment_schedule", ["region_code", "state", "due_date"])
    op.create_index("ix_schedule_chunk", "payment_schedule", ["payday_id", "chunk"])
    op.create_table(
        "payee",
        sa.Column("case_id", S(length=128), nullable=False),
        sa.Column("region_code", S(length=6), nullable=False),
        sa.Column("applicant_key", S(length=64), nullable=False),
        sa.Column("sealed", S(), nullable=False),
        sa.Column("account_masked", S(length=16), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "payday_run",
        sa.Column("payday_id", S(length=64), nullable=False),
        sa.Column("region_code", S(length=6), nullable=False),
        sa.Column("pay_date", sa.Date(), nullable=False),
        sa.Column("status", S(length=16), nullable=False),
        sa.Column("first_cutoff_at", T(), nullable=True),
        sa.Column("cutoff_at", T(), nullable=True),
        *(
            sa.Column(c, sa.Integer(), nullable=False)
            for c in ("passes", "chunks", "items", "paid", "failed", "rejected", "retried", "recoveries")
        ),
        sa.Column("amount_paid", D(), nullable=False),
        sa.Column("report", models.sqltypes.json_type(), nullable=False),
        sa.Column("finished_at", T(), nullable=True),
        sa.Column("updated_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("payday_id"),
    )
    op.create_index("ix_payday_region_date", "payday_run", ["region_code", "pay_date"])
    op.create_table(
        "payment_recovery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_key", S(length=160), nullable=False),
        sa.Column("case_id", S(length=128), nullable=False),
        sa.Column("region_code", S(length=6), nullable=False),
        sa.Column("pay_month", S(length=7), nullable=False),
        sa.Column("amount", D(), nullable=False),
        sa.Column("reason", S(length=32), nullable=False),
        sa.Column("payday_id", S(length=64), nullable=True),
        sa.Column("status", S(length=16), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_key", name="uq_recovery_order"),
    )
    op.create_index("ix_payment_recovery_case_id", "payment_recovery", ["case_id"])
    with op.batch_alter_table("payment_order") as b:
        b.add_column(sa.Column("payday_id", S(length=64), nullable=True))
        b.add_column(sa.Column("chunk", sa.Integer(), nullable=True))
        b.add_column(sa.Column("bank_batch", S(length=64), nullable=True))
        b.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("payment_order") as b:
        for c in ("attempts", "bank_batch", "chunk", "payday_id"):
            b.drop_column(c)
    op.drop_index("ix_payment_recovery_case_id", table_name="payment_recovery")
    op.drop_table("payment_recovery")
    op.drop_index("ix_payday_region_date", table_name="payday_run")
    op.drop_table("payday_run")
    op.drop_table("payee")
    op.drop_index("ix_schedule_chunk", table_name="payment_schedule")
    op.drop_index("ix_schedule_due", table_name="payment_schedule")
    op.drop_table("payment_schedule")
