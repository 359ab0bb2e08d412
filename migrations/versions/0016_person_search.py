"""Person search and short case numbers: keyed hashes of the name and of ID tail + birth date,
the short readable case number (region-date-sequence) with its per-day counter; existing rows get
their short number and name key, and their plaintext name is masked.

Revision ID: 0016
Revises: 0015
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    from core.person_search import mask_name, name_key, short_no, short_prefix
    from core.settings import get_settings

    op.create_table(
        "case_number_seq",
        sa.Column("prefix", _s(16), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix"),
    )
    with op.batch_alter_table("case_record") as batch:
        batch.add_column(sa.Column("short_no", _s(32), nullable=True))
        batch.add_column(sa.Column("name_key", _s(64), nullable=True))
        batch.add_column(sa.Column("tail_key", _s(64), nullable=True))
        batch.create_index("uq_case_short_no", ["short_no"], unique=True)
        batch.create_index("ix_case_name_key", ["name_key"], unique=False)
        batch.create_index("ix_case_tail_key", ["tail_key"], unique=False)

    # Backfill: short numbers in order of receipt per region and day; the name key from the name
    # still held in plain text, which is then masked. (The ID tail key needs the full number, which
    # the read model never held: those cases get it at their next projection.)
    settings = get_settings()
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT case_id, region_code, received_at, applicant_name FROM case_record ORDER BY received_at, case_id")
    ).all()
    counters: dict[str, int] = defaultdict(int)
    for case_id, region_code, received_at, name in rows:
        at = received_at if isinstance(received_at, datetime) else datetime.fromisoformat(str(received_at))
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        prefix = short_prefix(region_code, at)
        counters[prefix] += 1
        conn.execute(
            sa.text("UPDATE case_record SET short_no = :n, name_key = :k, applicant_name = :m WHERE case_id = :c"),
            {
                "n": short_no(prefix, counters[prefix]),
                "k": name_key(settings, name or "") if name and "*" not in name else None,
                "m": mask_name(name or ""),
                "c": case_id,
            },
        )
    for prefix, last in counters.items():
        conn.execute(sa.text("INSERT INTO case_number_seq (prefix, last) VALUES (:p, :l)"), {"p": prefix, "l": last})


def downgrade() -> None:
    with op.batch_alter_table("case_record") as batch:
        batch.drop_index("ix_case_tail_key")
        batch.drop_index("ix_case_name_key")
        batch.drop_index("uq_case_short_no")
        batch.drop_column("tail_key")
        batch.drop_column("name_key")
        batch.drop_column("short_no")
    op.drop_table("case_number_seq")
