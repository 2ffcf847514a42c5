"""folder seals: a cache that lets an unchanged folder be re-ingested without per-file lookups

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "folder_seals",
        sa.Column("root_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.LargeBinary(), nullable=False),
        sa.Column("listing", sa.String(length=64), nullable=False),
        sa.Column("recorded_ns", sa.BigInteger(), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("byte_count", sa.BigInteger(), nullable=False),
        sa.Column("refs", sa.LargeBinary(), nullable=False),
        sa.Column("holes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["root_id"], ["roots.id"], name=op.f("fk_folder_seals_root_id_roots")
        ),
        sa.PrimaryKeyConstraint("root_id", "folder", name=op.f("pk_folder_seals")),
    )


def downgrade() -> None:
    op.drop_table("folder_seals")
