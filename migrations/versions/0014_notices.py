"""official notices (receipts, decisions) as stored PDFs with their hash and check code

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "notice",
        sa.Column("id", _s(32), nullable=False),
        sa.Column("case_id", _s(128), nullable=False),
        sa.Column("issue_key", _s(64), nullable=False),
        sa.Column("kind", _s(32), nullable=False),
        sa.Column("title", _s(64), nullable=False),
        sa.Column("notice_no", _s(32), nullable=False),
        sa.Column("check_code", _s(19), nullable=False),
        sa.Column("region_code", _s(6), nullable=False),
        sa.Column("sha256", _s(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("storage_key", _s(255), nullable=False),
        sa.Column("issued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "issue_key", name="uq_notice_issue"),
        sa.UniqueConstraint("check_code", name="uq_notice_check_code"),
    )
    op.create_index("ix_notice_case_id", "notice", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_notice_case_id", table_name="notice")
    op.drop_table("notice")
