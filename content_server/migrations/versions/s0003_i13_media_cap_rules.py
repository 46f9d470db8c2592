"""rebuilt media and transcoding jobs, per-screen asset access, CAP area mapping and loudness, house rules

Media: the upload's own hash, a processing status with progress and reason, the screen classes a
picture suits. Devices: the assets of the last two manifests served (what a screen may download).
Alert feeds: the operator's area mapping (names in both languages, geocodes). CAP records: every
announcement an alert made, its references and outcome. Announcements: a CAP alert's loudness.
House rules per screen class and per group.

Revision ID: s0003i13
Revises: s0002
Create Date: 2026-12-06 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import content_server.core.models

revision: str = "s0003i13"
down_revision: str | Sequence[str] | None = "s0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media") as t:
        t.add_column(sa.Column("source_sha256", sa.String(length=64), nullable=True))
        t.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="ready"))
        t.add_column(sa.Column("progress", sa.Float(), nullable=False, server_default="1"))
        t.add_column(sa.Column("problem", sa.JSON(), nullable=False, server_default="{}"))
        t.add_column(sa.Column("needs", sa.JSON(), nullable=False, server_default="[]"))
        t.add_column(sa.Column("screen_classes", sa.JSON(), nullable=True))
        t.create_index(op.f("ix_media_source_sha256"), ["source_sha256"])
    with op.batch_alter_table("devices") as t:
        t.add_column(sa.Column("served_assets", sa.JSON(), nullable=False, server_default="[]"))
        t.add_column(sa.Column("previous_assets", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("alert_feeds") as t:
        t.add_column(sa.Column("area_mapping", sa.JSON(), nullable=True))
    with op.batch_alter_table("cap_alerts") as t:
        t.add_column(sa.Column("announcement_ids", sa.JSON(), nullable=False, server_default="[]"))
        t.add_column(sa.Column("refs", sa.JSON(), nullable=False, server_default="[]"))
        t.add_column(sa.Column("outcome", sa.String(length=16), nullable=False, server_default=""))
    with op.batch_alter_table("announcements") as t:
        t.add_column(sa.Column("loudness", sa.String(length=16), nullable=True))
    op.create_table(
        "house_rules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("loop_seconds", sa.Integer(), nullable=True),
        sa.Column("min_announcement_share", sa.Float(), nullable=True),
        sa.Column("max_ad_share", sa.Float(), nullable=True),
        sa.Column("min_dwell_s", sa.Float(), nullable=True),
        sa.Column("updated_at", content_server.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_house_rules_updated_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_house_rules")),
        sa.UniqueConstraint("scope", "name", name=op.f("uq_house_rules_scope")),
    )


def downgrade() -> None:
    op.drop_table("house_rules")
    with op.batch_alter_table("announcements") as t:
        t.drop_column("loudness")
    with op.batch_alter_table("cap_alerts") as t:
        for c in ("outcome", "refs", "announcement_ids"):
            t.drop_column(c)
    with op.batch_alter_table("alert_feeds") as t:
        t.drop_column("area_mapping")
    with op.batch_alter_table("devices") as t:
        t.drop_column("previous_assets")
        t.drop_column("served_assets")
    with op.batch_alter_table("media") as t:
        t.drop_index(op.f("ix_media_source_sha256"))
        for c in ("screen_classes", "needs", "problem", "progress", "status", "source_sha256"):
            t.drop_column(c)
