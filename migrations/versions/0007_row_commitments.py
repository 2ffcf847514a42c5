"""row commitments: history rows reference their event deferrably, and are indexed by it

A unit of work now writes its rows first and its event last, the event's payload carrying the
rows it wrote; the rows' references to `events` are therefore checked at commit. The indexes
let the writer read back the rows of its own event, and `audit verify` group rows by event.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Every table whose rows name the event that recorded them.
RECORDED = (
    "tools",
    "asset_versions",
    "claims",
    "lineage",
    "approvals",
    "consents",
    "likenesses",
    "deliverables",
    "signals",
)
# Those of them that 0003 (and 0005, for signals) guards with append-only triggers (SQLite drops a table's triggers
# when batch mode rebuilds it, so they are made again).
GUARDED = {"claims", "lineage", "approvals", "consents", "likenesses", "deliverables", "signals"}
MESSAGE = "provenance: {table} is append-only; history is never changed or deleted"


def upgrade() -> None:
    _set_deferrable(True)
    for table in RECORDED:
        op.create_index(f"ix_{table}_event_id", table, ["event_id"], unique=False)


def downgrade() -> None:
    for table in RECORDED:
        op.drop_index(f"ix_{table}_event_id", table_name=table)
    _set_deferrable(False)


def _set_deferrable(deferrable: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        timing = "DEFERRABLE INITIALLY IMMEDIATE" if deferrable else "NOT DEFERRABLE"
        for table in RECORDED:
            op.execute(f"ALTER TABLE {table} ALTER CONSTRAINT {_fk(table)} {timing}")
        return
    # SQLite cannot alter a constraint: batch mode rebuilds the table with the new one. (SQLite
    # defers every reference with `PRAGMA defer_foreign_keys`; the DDL says so for the models.)
    for table in RECORDED:
        with op.batch_alter_table(table, recreate="always") as batch_op:
            batch_op.drop_constraint(_fk(table), type_="foreignkey")
            batch_op.create_foreign_key(
                _fk(table), "events", ["event_id"], ["id"],
                deferrable=True if deferrable else None,
                initially="IMMEDIATE" if deferrable else None,
            )  # fmt: skip
        if table in GUARDED:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE.format(table=table)}'); END"
                )


def _fk(table: str) -> str:
    return f"fk_{table}_event_id_events"
