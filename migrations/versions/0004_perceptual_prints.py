"""perceptual prints: a 64-bit print of each image content, with an index on each of its 3 bands

Derived data (recomputable from the contents), not history: no append-only guard.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BANDS = ("band0", "band1", "band2")


def upgrade() -> None:
    op.create_table(
        "perceptual_prints",
        sa.Column("content_id", sa.Integer(), nullable=False),
        sa.Column("print", sa.BigInteger(), nullable=False),
        *(sa.Column(band, sa.Integer(), nullable=False) for band in BANDS),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["contents.id"],
            name=op.f("fk_perceptual_prints_content_id_contents"),
        ),
        sa.PrimaryKeyConstraint("content_id", name=op.f("pk_perceptual_prints")),
    )
    with op.batch_alter_table("perceptual_prints", schema=None) as batch_op:
        for band in BANDS:
            batch_op.create_index(batch_op.f(f"ix_perceptual_prints_{band}"), [band], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("perceptual_prints", schema=None) as batch_op:
        for band in BANDS:
            batch_op.drop_index(batch_op.f(f"ix_perceptual_prints_{band}"))

    op.drop_table("perceptual_prints")
