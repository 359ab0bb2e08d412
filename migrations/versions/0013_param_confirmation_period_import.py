"""operator confirmations of unconfirmed parameters; legacy recipients imported as periods

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "parameter_confirmation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _s(128), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("value", _s(512), nullable=False),
        sa.Column("source", _s(1000), nullable=False),
        sa.Column("confirmed_by", _s(64), nullable=False),
        sa.Column("confirmed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "effective_from", "value", name="uq_param_confirmation"),
    )
    op.create_table(
        "period_import",
        sa.Column("applicant_key", _s(64), nullable=False),
        sa.Column("case_id", _s(128), nullable=False),
        sa.Column("region_code", _s(6), nullable=False),
        sa.Column("source_sha256", _s(64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("imported_by", _s(64), nullable=False),
        sa.Column("imported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("applicant_key"),
        sa.UniqueConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("period_import")
    op.drop_table("parameter_confirmation")
