"""perceptual regions: several prints per image (regions, views), each with its algorithm and a detail print

Existing prints become algorithm "dct64.1", region "whole", no detail print: they are kept but
never compared with prints of the current algorithm; `provenance db reprint` recomputes them
from the files where their contents were last seen.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_ALGORITHM = "dct64.1"
BANDS = ("band0", "band1", "band2")
COVERED = ("algorithm", "print", "content_id", "region")


def upgrade() -> None:
    with op.batch_alter_table("perceptual_prints", recreate="always") as table:
        table.add_column(
            sa.Column("algorithm", sa.String(16), nullable=False, server_default=OLD_ALGORITHM)
        )
        table.add_column(sa.Column("region", sa.String(32), nullable=False, server_default="whole"))
        table.add_column(sa.Column("detail", sa.LargeBinary(), nullable=True))
        table.drop_constraint("pk_perceptual_prints", type_="primary")
        table.create_primary_key("pk_perceptual_prints", ["content_id", "algorithm", "region"])
    with op.batch_alter_table("perceptual_prints") as table:
        # Defaults served the rows that were there; new rows always say what they are.
        table.alter_column("algorithm", server_default=None)
        table.alter_column("region", server_default=None)
        # Covering indexes: a probe reads its rows from the index alone.
        for band in BANDS:
            table.drop_index(f"ix_perceptual_prints_{band}")
            table.create_index(f"ix_perceptual_prints_{band}", [band, *COVERED])


def downgrade() -> None:
    # One print per content again: its whole frame, by the old algorithm when it has one.
    op.execute("DELETE FROM perceptual_prints WHERE region <> 'whole'")
    op.execute(
        f"DELETE FROM perceptual_prints WHERE algorithm <> '{OLD_ALGORITHM}' AND content_id IN "
        f"(SELECT content_id FROM perceptual_prints WHERE algorithm = '{OLD_ALGORITHM}')"
    )
    with op.batch_alter_table("perceptual_prints") as table:
        for band in BANDS:
            table.drop_index(f"ix_perceptual_prints_{band}")
    with op.batch_alter_table("perceptual_prints", recreate="always") as table:
        table.drop_constraint("pk_perceptual_prints", type_="primary")
        table.drop_column("detail")
        table.drop_column("region")
        table.drop_column("algorithm")
        table.create_primary_key("pk_perceptual_prints", ["content_id"])
    with op.batch_alter_table("perceptual_prints") as table:
        for band in BANDS:
            table.create_index(f"ix_perceptual_prints_{band}", [band])
