"""skill-upgrade subsidy: grants (once per occupation and level, yearly limit), employer batches

Revision ID: 0010
Revises: 0007 (was 0004; chained onto main's head after merging main)
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.sqltypes

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "skill_subsidy_grant",
        sa.Column("case_id", _s(128), nullable=False),
        sa.Column("applicant_key", _s(64), nullable=False),
        sa.Column("cert_no", _s(32), nullable=False),
        sa.Column("occupation_code", _s(16), nullable=False),
        sa.Column("level", _s(16), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("shortage", sa.Boolean(), nullable=False),
        sa.Column("amount", models.sqltypes.ExactDecimal(), nullable=False),
        sa.Column("region_code", _s(6), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
        sa.UniqueConstraint("cert_no", name="uq_skill_grant_cert"),
    )
    op.create_index("ix_skill_grant_applicant", "skill_subsidy_grant", ["applicant_key", "occupation_code"])
    op.create_table(
        "skill_subsidy_batch",
        sa.Column("batch_id", _s(64), nullable=False),
        sa.Column("employer_credit_code", _s(18), nullable=False),
        sa.Column("region_code", _s(6), nullable=False),
        sa.Column("filed_by", _s(64), nullable=False),
        sa.Column("fit_statement_sha256", _s(64), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_valid", sa.Integer(), nullable=False),
        sa.Column("filed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id"),
    )
    op.create_index(
        "ix_skill_subsidy_batch_employer_credit_code", "skill_subsidy_batch", ["employer_credit_code"]
    )
    op.create_table(
        "skill_subsidy_batch_row",
        sa.Column("batch_id", _s(64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("cert_no", _s(32), nullable=False),
        sa.Column("case_id", _s(128), nullable=True),
        sa.Column("error_zh", _s(500), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", "line"),
    )


def downgrade() -> None:
    op.drop_table("skill_subsidy_batch_row")
    op.drop_index("ix_skill_subsidy_batch_employer_credit_code", table_name="skill_subsidy_batch")
    op.drop_table("skill_subsidy_batch")
    op.drop_index("ix_skill_grant_applicant", table_name="skill_subsidy_grant")
    op.drop_table("skill_subsidy_grant")
