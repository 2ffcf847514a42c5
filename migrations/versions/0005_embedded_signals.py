"""embedded signals: what files say about themselves (C2PA, XMP, generator chunks, perceptual matches)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MESSAGE = "provenance: signals is append-only; history is never changed or deleted"


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=True),
        sa.Column("evidence", sa.String(length=32), nullable=False),
        sa.Column("tool", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "evidence IN ('declared', 'embedded-signed', 'embedded', 'inferred')",
            name=op.f("ck_signals_evidence_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_signals_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["asset_versions.id"], name=op.f("fk_signals_version_id_asset_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
    )
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signals_version_id"), ["version_id"], unique=False)

    # History, guarded like the tables of revision 0003.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER signals_append_only BEFORE UPDATE OR DELETE ON signals "
            "FOR EACH ROW EXECUTE FUNCTION provenance_append_only()"
        )
        op.execute(
            "CREATE TRIGGER signals_no_truncate BEFORE TRUNCATE ON signals "
            "FOR EACH STATEMENT EXECUTE FUNCTION provenance_append_only()"
        )
        op.execute("ALTER TABLE signals ENABLE ALWAYS TRIGGER signals_append_only")
        op.execute("ALTER TABLE signals ENABLE ALWAYS TRIGGER signals_no_truncate")
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER signals_no_{action.lower()} BEFORE {action} ON signals "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def downgrade() -> None:
    # Dropping the table drops its triggers with it.
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signals_version_id"))
    op.drop_table("signals")
