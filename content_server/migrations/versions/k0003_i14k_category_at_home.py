"""service categories say whether their services happen at the resident's home

Revision ID: k0003i14k
Revises: k0002i14
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "k0003i14k"
down_revision: str | Sequence[str] | None = "k0002i14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kiosk_categories") as batch:
        batch.add_column(sa.Column("at_home", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("kiosk_categories") as batch:
        batch.drop_column("at_home")
