"""fleet: an incident remembers the members back before it closed, for its recovery notice

A building whose screens come back over a few evaluation passes was named only in part by the
recovery (the members of the last pass). ``left_members`` keeps those back earlier.

Revision ID: f0004
Revises: f0003
Create Date: 2026-12-17 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f0004"
down_revision: str | Sequence[str] | None = "f0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fleet_incidents") as batch:
        batch.add_column(sa.Column("left_members", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("fleet_incidents") as batch:
        batch.drop_column("left_members")
