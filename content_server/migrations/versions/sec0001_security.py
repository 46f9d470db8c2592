"""security (issue 21): username keys, throttle state, served manifests, play refusals

Revision ID: sec0001
Revises:
Create Date: 2026-12-06 14:00:00

- ``users.username_key`` (unique): the case-folded confusable skeleton of the username; existing
  accounts get theirs here, and an account whose key collides with an older one's keeps a key
  suffixed with its id (it stays, but nobody new can take a look-alike of either).
- ``throttle_state``: growing-delay counters and budgets for log-ins and case look-ups; it replaces
  ``kiosk_lookup_failures`` (whose hard lockouts are gone).
- ``served_manifests`` and ``play_refusals``: what proof of play is checked against, and counts of
  what was refused.
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import content_server.core.models

revision: str = "sec0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("security",)
depends_on: str | Sequence[str] | None = ("s0001", "k0001")


def _username_key(raw: str) -> str:
    """A frozen copy of ``accounts.rules.username_key`` as it was when this migration was written."""
    import icu

    folded = unicodedata.normalize("NFKC", raw.strip()).casefold()
    return unicodedata.normalize("NFKC", icu.SpoofChecker().getSkeleton(0, folded)).casefold()


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("username_key", sa.String(length=255), nullable=True))
    users = sa.table(
        "users",
        sa.column("id", sa.String),
        sa.column("username", sa.String),
        sa.column("username_key", sa.String),
        sa.column("created_at", sa.DateTime),
    )
    conn = op.get_bind()
    taken: set[str] = set()
    for uid, name in conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.created_at)):
        key = _username_key(name)
        if key in taken:
            key = f"{key}#{uid}"
        taken.add(key)
        conn.execute(users.update().where(users.c.id == uid).values(username_key=key))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("username_key", existing_type=sa.String(length=255), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_users_username_key"), ["username_key"])

    op.create_table(
        "throttle_state",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("last_at", content_server.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_state")),
    )
    with op.batch_alter_table("throttle_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_throttle_state_last_at"), ["last_at"], unique=False)
    with op.batch_alter_table("kiosk_lookup_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_lookup_failures_key"))
    op.drop_table("kiosk_lookup_failures")

    op.create_table(
        "served_manifests",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("served_from", content_server.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", content_server.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_served_manifests_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "version", name=op.f("pk_served_manifests")),
    )
    with op.batch_alter_table("served_manifests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_served_manifests_valid_until"), ["valid_until"], unique=False)
    op.create_table(
        "play_refusals",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", content_server.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_play_refusals_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", "day", "reason", name=op.f("pk_play_refusals")),
    )


def downgrade() -> None:
    op.drop_table("play_refusals")
    with op.batch_alter_table("served_manifests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_served_manifests_valid_until"))
    op.drop_table("served_manifests")
    op.create_table(
        "kiosk_lookup_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("at", content_server.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_lookup_failures")),
    )
    with op.batch_alter_table("kiosk_lookup_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kiosk_lookup_failures_key"), ["key"], unique=False)
    with op.batch_alter_table("throttle_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_throttle_state_last_at"))
    op.drop_table("throttle_state")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_username_key"), type_="unique")
        batch_op.drop_column("username_key")
