"""deliverable manifests: the bytes of each manifest a finalize wrote, kept to write it again

A finalize killed between its commit and putting its manifest in place left a final
deliverable with no manifest; `provenance manifest write NAME` now writes it again, byte for
byte, from this table (vouched for by the digest the `finalize.manifest` event recorded).
Deliverables finalized before this revision have no row: their manifests cannot be written
again. Append-only, as the deliverables are.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLE = "deliverable_manifests"
MESSAGE = f"provenance: {TABLE} is append-only; history is never changed or deleted"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("deliverable_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deliverable_id"],
            ["deliverables.id"],
            name=op.f("fk_deliverable_manifests_deliverable_id_deliverables"),
        ),
        sa.PrimaryKeyConstraint("deliverable_id", name=op.f("pk_deliverable_manifests")),
    )
    # The same guards as the deliverables' (0003).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION provenance_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION provenance_append_only()"
        )
        op.execute(f"ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER {TABLE}_append_only")
        op.execute(f"ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER {TABLE}_no_truncate")
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{action.lower()} BEFORE {action} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def downgrade() -> None:
    op.drop_table(TABLE)  # (its triggers go with it)
