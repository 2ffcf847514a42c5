"""copy seals: a sweep seals a delivered folder of exact copies, as of the versions then recorded

A sweep that resolves every file of a folder as an exact copy of recorded assets' latest
versions seals the folder (intent `copy`) instead of writing a stat-cache row for each file.
`copied_as_of` is the highest asset version id when the copies were resolved: a later version
that holds any of their bytes, or supersedes one of their versions, makes the seal stale.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("folder_seals") as table:
        table.add_column(sa.Column("copied_as_of", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # An ingest's seals keep their meaning without the column; a sweep's would not.
    op.execute("DELETE FROM folder_seals WHERE copied_as_of IS NOT NULL")
    with op.batch_alter_table("folder_seals") as table:
        table.drop_column("copied_as_of")
