"""web-page and live-stream media, and the item kinds a player plays

Media: the address of an operator's web page or live stream, a page's allowed hosts and load
timeout. Devices: the optional item kinds (web, stream) the player last said it plays, so its
manifest (and the version its heartbeat is told) holds only what it can parse.

Revision ID: s0004i17
Revises: s0003i13
Create Date: 2026-12-06 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0004i17"
down_revision: str | Sequence[str] | None = "s0003i13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media") as t:
        t.add_column(sa.Column("url", sa.Text(), nullable=True))
        t.add_column(sa.Column("allowed_hosts", sa.JSON(), nullable=True))
        t.add_column(sa.Column("load_timeout_s", sa.Float(), nullable=True))
    with op.batch_alter_table("devices") as t:
        t.add_column(sa.Column("item_kinds", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("devices") as t:
        t.drop_column("item_kinds")
    with op.batch_alter_table("media") as t:
        t.drop_column("load_timeout_s")
        t.drop_column("allowed_hosts")
        t.drop_column("url")
