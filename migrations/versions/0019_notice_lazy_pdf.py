"""Notices rendered on first use: the notice row records the worded layout (a JSON snapshot in
the document store, ``layout_key``) when the case decides, and the PDF with its SHA-256 is made on
the first download or verification. ``sha256``, ``size`` and ``storage_key`` are therefore empty
until then; rows issued before keep their PDF and have no layout.

Revision ID: 0019
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0019"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    with op.batch_alter_table("notice") as batch:
        batch.add_column(sa.Column("layout_key", _s(255), nullable=True))
        batch.alter_column("sha256", existing_type=_s(64), nullable=True)
        batch.alter_column("size", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("storage_key", existing_type=_s(255), nullable=True)


def downgrade() -> None:
    # Render-pending rows cannot satisfy NOT NULL: they are rendered first by the application
    # (``activities.notices.rendered``); a downgrade with such rows left fails here, on purpose.
    with op.batch_alter_table("notice") as batch:
        batch.alter_column("storage_key", existing_type=_s(255), nullable=False)
        batch.alter_column("size", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("sha256", existing_type=_s(64), nullable=False)
        batch.drop_column("layout_key")
