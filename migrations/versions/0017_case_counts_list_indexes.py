"""Counts without scanning, and the indexes keyset pages ask for (issue 19, lists).

``case_count`` holds how many cases there are per (region, type, status, stage, open, overdue,
escalated, blocked, decided, decided late): every list's total and status chips, the inboxes'
overdue figure and the statistics page's totals are sums over its few thousand rows instead of
counts over a million. Triggers on ``case_record`` keep it exact in the same transaction as the
projection's write, on both dialects, so no projection code has to remember it. On PostgreSQL the
trigger touches the old and the new key in a fixed order (the smaller key first), so two
projections moving cases in opposite directions between the same two keys do not deadlock.

Indexes: ``(received_at, case_id)`` and ``(updated_at, case_id)`` serve the keyset pages sorted by
those columns (``(deadline, case_id)`` is 0004's); ``(region_code, received_at)`` and
``(region_code, decided_at)`` serve the statistics page's per-day counts over a recent window,
``(decided_at)`` finds where that window ends.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSIONS = (
    "region_code",
    "case_type",
    "status",
    "stage",
    "is_open",
    "overdue",
    "escalated",
    "blocked",
    "decided",
    "late",
)
INDEXES = [
    ("ix_case_received_order", ["received_at", "case_id"], None),
    ("ix_case_updated_order", ["updated_at", "case_id"], None),
    ("ix_case_region_received", ["region_code", "received_at"], None),
    ("ix_case_region_decided", ["region_code", "decided_at"], "decided_at IS NOT NULL"),
    # The latest decision in scope (where the statistics window ends): a backward scan that stops
    # at the first row of the scope, instead of every decision of the scope (73 ms at a league).
    ("ix_case_decided_order", ["decided_at"], "decided_at IS NOT NULL"),
]


def key_sql(row: str, dialect: str) -> list[str]:
    """The count key of one ``case_record`` row (``NEW`` or ``OLD``) as SQL expressions."""
    if dialect == "postgresql":
        late = f"({row}.decided_at IS NOT NULL AND ({row}.summary->>'decided_within_limit') = 'false')"
        truth = "{}"
    else:
        late = (
            f"({row}.decided_at IS NOT NULL AND json_extract({row}.summary, '$.decided_within_limit') IS 0)"
        )
        truth = "({} IS 1)"
    return [
        f"{row}.region_code",
        f"{row}.case_type",
        f"{row}.status",
        f"{row}.stage",
        f"({row}.closed_at IS NULL)",
        truth.format(f"{row}.overdue"),
        truth.format(f"{row}.escalated"),
        truth.format(f"{row}.blocked"),
        f"({row}.decided_at IS NOT NULL)",
        f"COALESCE({late}, false)" if dialect == "postgresql" else f"COALESCE({late}, 0)",
    ]


BACKFILL = """
INSERT INTO case_count ({dims}, n)
SELECT {keys}, count(*) FROM case_record AS r GROUP BY {groups}
"""

PG_FUNCTIONS = """
CREATE FUNCTION case_count_bump(k text[], delta bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO case_count ({dims}, n)
    VALUES (k[1], k[2], k[3], k[4], k[5]::boolean, k[6]::boolean, k[7]::boolean, k[8]::boolean,
            k[9]::boolean, k[10]::boolean, delta)
    ON CONFLICT ({dims}) DO UPDATE SET n = case_count.n + EXCLUDED.n;
END $$;

CREATE FUNCTION case_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key text[];
    new_key text[];
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_key := ARRAY[{old}]::text[];
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_key := ARRAY[{new}]::text[];
    END IF;
    IF old_key IS NOT NULL AND new_key IS NOT NULL AND old_key = new_key THEN
        RETURN NULL;  -- most projections change no dimension: nothing to lock
    END IF;
    IF old_key IS NULL THEN
        PERFORM case_count_bump(new_key, 1);
    ELSIF new_key IS NULL THEN
        PERFORM case_count_bump(old_key, -1);
    ELSIF old_key < new_key THEN
        PERFORM case_count_bump(old_key, -1);
        PERFORM case_count_bump(new_key, 1);
    ELSE
        PERFORM case_count_bump(new_key, 1);
        PERFORM case_count_bump(old_key, -1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER case_count_sync AFTER INSERT OR UPDATE OR DELETE ON case_record
    FOR EACH ROW EXECUTE FUNCTION case_count_apply();
"""

SQLITE_BUMP = """
    INSERT INTO case_count ({dims}, n) VALUES ({keys}, {delta})
    ON CONFLICT ({dims}) DO UPDATE SET n = n + excluded.n;
"""


def _sqlite_triggers() -> list[str]:
    dims = ", ".join(DIMENSIONS)

    def bump(row: str, delta: int) -> str:
        return SQLITE_BUMP.format(dims=dims, keys=", ".join(key_sql(row, "sqlite")), delta=delta)

    changed = " OR ".join(
        f"({a}) IS NOT ({b})" for a, b in zip(key_sql("OLD", "sqlite"), key_sql("NEW", "sqlite"), strict=True)
    )
    return [
        f"CREATE TRIGGER case_count_ins AFTER INSERT ON case_record BEGIN {bump('NEW', 1)} END",
        f"CREATE TRIGGER case_count_del AFTER DELETE ON case_record BEGIN {bump('OLD', -1)} END",
        f"CREATE TRIGGER case_count_upd AFTER UPDATE ON case_record WHEN {changed} "
        f"BEGIN {bump('OLD', -1)} {bump('NEW', 1)} END",
    ]


def create_count_sync(dialect: str) -> list[str]:
    """The statements that install the triggers (also used by the list bench after a bulk load)."""
    if dialect == "postgresql":
        script = PG_FUNCTIONS.format(
            dims=", ".join(DIMENSIONS),
            old=", ".join(f"({k})::text" for k in key_sql("OLD", dialect)),
            new=", ".join(f"({k})::text" for k in key_sql("NEW", dialect)),
        )
        # One statement each (asyncpg prepares them); each ends with "$$;" or the trigger's ";".
        return [p.strip() + ("$$" if p.rstrip().endswith("END") else "") for p in script.split("$$;") if p.strip()]
    return _sqlite_triggers()


def backfill_sql(dialect: str) -> str:
    keys = key_sql("r", dialect)
    return BACKFILL.format(dims=", ".join(DIMENSIONS), keys=", ".join(keys), groups=", ".join(keys))


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "case_count",
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("case_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        *(sa.Column(c, sa.Boolean(), nullable=False) for c in DIMENSIONS[4:]),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*DIMENSIONS),
    )
    op.execute(backfill_sql(dialect))
    for stmt in create_count_sync(dialect):
        op.execute(stmt)
    for name, columns, where in INDEXES:
        clause = sa.text(where) if where else None
        op.create_index(name, "case_record", columns, postgresql_where=clause, sqlite_where=clause)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, _, _ in INDEXES:
        op.drop_index(name, table_name="case_record")
    if dialect == "postgresql":
        op.execute("DROP TRIGGER case_count_sync ON case_record")
        op.execute("DROP FUNCTION case_count_apply()")
        op.execute("DROP FUNCTION case_count_bump(text[], bigint)")
    else:
        for t in ("case_count_ins", "case_count_del", "case_count_upd"):
            op.execute(f"DROP TRIGGER {t}")
    op.drop_table("case_count")
