"""studio: media drawn as variants of one slide for several screen shapes

A designed slide, a PDF page or a data slide is drawn once per screen shape (16:9, 9:16 and the
other shapes of the registered screens); the variants share ``variant_of`` and a screen's manifest
carries only the one nearest its own shape.

Revision ID: st0002
Revises: st0001
Create Date: 2026-12-06 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "st0002"
down_revision: str | Sequence[str] | None = "st0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "s0004i17"  # after the live media columns


def upgrade() -> None:
    with op.batch_alter_table("media") as t:
        t.add_column(sa.Column("variant_of", sa.String(length=32), nullable=True))
        t.create_index(op.f("ix_media_variant_of"), ["variant_of"])


def downgrade() -> None:
    with op.batch_alter_table("media") as t:
        t.drop_index(op.f("ix_media_variant_of"))
        t.drop_column("variant_of")
