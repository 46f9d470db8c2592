"""fleet: remote commands (operators' sends, append-only, and one command per device)

Revision ID: fc0001
Revises:
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from content_server.core.models import UTCDateTime

revision: str = "fc0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("fleet_commands",)
depends_on: str | Sequence[str] | None = "s0001"

REFUSE = "command_sends is append-only: the record of who sent which command"


def upgrade() -> None:
    op.create_table(
        "command_sends",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("selector", sa.JSON(), nullable=False),
        sa.Column("device_count", sa.Integer(), nullable=False),
        sa.Column("sent_by", sa.String(length=32), nullable=False),
        sa.Column("sent_by_name", sa.String(length=64), nullable=False),
        sa.Column("sent_by_role", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_sends")),
    )
    op.create_index(op.f("ix_command_sends_sent_at"), "command_sends", ["sent_at"], unique=False)
    op.create_table(
        "device_commands",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("send_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("acked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE",
                                name=op.f("fk_device_commands_device_id_devices")),
        sa.ForeignKeyConstraint(["send_id"], ["command_sends.id"],
                                name=op.f("fk_device_commands_send_id_command_sends")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_device_commands")),
        sa.UniqueConstraint("id", name=op.f("uq_device_commands_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_device_commands_device_open", "device_commands", ["device_id", "acked_at", "seq"],
                    unique=False)
    op.create_index(op.f("ix_device_commands_send_id"), "device_commands", ["send_id"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER command_sends_no_{event.lower()} BEFORE {event} ON command_sends "
                       f"BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END")
        return
    op.execute("CREATE FUNCTION command_sends_append_only() RETURNS trigger LANGUAGE plpgsql AS "
               f"$$ BEGIN RAISE EXCEPTION '{REFUSE}'; END $$")
    op.execute("CREATE TRIGGER command_sends_append_only BEFORE UPDATE OR DELETE ON command_sends "
               "FOR EACH ROW EXECUTE FUNCTION command_sends_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS command_sends_no_update")
        op.execute("DROP TRIGGER IF EXISTS command_sends_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS command_sends_append_only ON command_sends")
        op.execute("DROP FUNCTION IF EXISTS command_sends_append_only()")
    op.drop_index(op.f("ix_device_commands_send_id"), table_name="device_commands")
    op.drop_index("ix_device_commands_device_open", table_name="device_commands")
    op.drop_table("device_commands")
    op.drop_index(op.f("ix_command_sends_sent_at"), table_name="command_sends")
    op.drop_table("command_sends")
