"""show roots: a root is named once and placed per machine (a location, other spellings)

`roots.path` becomes `roots.name`: the name a root was recorded under, which events write and
which never changes. A declared root gets a `location` (where it is, as its platform writes it)
and `aliases` (other spellings of its folder: other mounts, other platforms); `event_id` is the
event that declared it or first changed it (None: as the ledger recorded it on its own).

The folder holding a SQLite ledger is the root without a location, wherever the ledger is
opened from. A SQLite ledger opened from several absolute paths before this revision recorded a
root for each: the one holding the most assets (the first of equals) stays the ledger's folder,
the others are placed at the path they were recorded at (their name).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provenance.errors import ProvenanceError

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("roots") as table:
        table.drop_constraint("uq_roots_path", type_="unique")
        table.alter_column(
            "path", new_column_name="name", existing_type=sa.LargeBinary(), existing_nullable=False
        )
        table.add_column(sa.Column("location", sa.LargeBinary(), nullable=True))
        table.add_column(sa.Column("aliases", sa.Text(), nullable=False, server_default="[]"))
        table.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        table.create_foreign_key(
            "fk_roots_event_id_events",
            "events",
            ["event_id"],
            ["id"],
            deferrable=True,
            initially="IMMEDIATE",
        )
        table.create_index("ix_roots_event_id", ["event_id"], unique=False)
    with op.batch_alter_table("roots") as table:
        # (In a batch of its own: batch mode loses a constraint on a column it renames.)
        table.create_unique_constraint("uq_roots_name", ["name"])
        # The default served the rows that were there; new rows always say what they are.
        table.alter_column("aliases", existing_type=sa.Text(), server_default=None)
    _place_earlier_folders()


def _place_earlier_folders() -> None:
    """Of the roots a SQLite ledger recorded for its folder at several absolute paths, keep as
    the ledger's folder the one holding the most assets (its history; the first of equals), and
    place the others where they were recorded."""
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT roots.id FROM roots LEFT JOIN assets ON assets.root_id = roots.id "
                "WHERE roots.name <> :top GROUP BY roots.id "
                "ORDER BY count(assets.id) DESC, roots.id"
            ),
            {"top": b"/"},
        )
        .scalars()
        .all()
    )
    if len(rows) < 2:
        return  # (other ledgers than SQLite ones in `.provenance/` recorded `/` alone)
    op.get_bind().execute(
        sa.text("UPDATE roots SET location = name WHERE name <> :top AND id <> :home"),
        {"top": b"/", "home": rows[0]},
    )


def downgrade() -> None:
    bind = op.get_bind()
    changed = bind.execute(
        sa.text("SELECT count(*) FROM events WHERE kind LIKE 'roots.%'")
    ).scalar_one()
    if changed:
        raise ProvenanceError(
            f"The ledger's history holds {changed} events that declare, move or map roots, "
            "which schema 0011 cannot hold (its audit would not read them). Keep this version of "
            "provenance, or restore a backup made before they were recorded."
        )
    with op.batch_alter_table("roots") as table:
        table.drop_index("ix_roots_event_id")
        table.drop_constraint("fk_roots_event_id_events", type_="foreignkey")
        table.drop_constraint("uq_roots_name", type_="unique")
        table.drop_column("event_id")
        table.drop_column("aliases")
        table.drop_column("location")
        table.alter_column(
            "name", new_column_name="path", existing_type=sa.LargeBinary(), existing_nullable=False
        )
    with op.batch_alter_table("roots") as table:
        table.create_unique_constraint("uq_roots_path", ["path"])
