"""orders carry where a home service happens (building, unit, room)

Revision ID: k0002i14
Revises: k0001
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "k0002i14"
down_revision: str | Sequence[str] | None = "k0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("building", "unit", "room")


def upgrade() -> None:
    with op.batch_alter_table("kiosk_orders") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("kiosk_orders") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
