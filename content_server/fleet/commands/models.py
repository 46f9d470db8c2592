"""Command tables (Alembic branch ``fleet_commands``): the operators' sends and one row per device.

``command_sends`` is append-only (database triggers refuse UPDATE and DELETE): it is the record
of who sent what to which selector, when and from where. ``device_commands`` carries each
device's copy and what became of it; ``seq`` (increasing) is what the devices' long-poll counts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from content_server.core.audit.services import AuditLog
from content_server.core.models import Base, UTCDateTime, new_id


class CommandSend(Base):
    """One operator action: a kind of command for a selector of screens (append-only)."""

    __tablename__ = "command_sends"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # screen_on, volume
    selector: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # selector.Selector
    device_count: Mapped[int] = mapped_column(Integer)
    sent_by: Mapped[str] = mapped_column(String(32))  # the user's id; no foreign key: the record outlives it
    sent_by_name: Mapped[str] = mapped_column(String(64))
    sent_by_role: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64), default="")
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DeviceCommandRow(Base):
    """One device's copy of a send, and its fate: delivered, acknowledged (done/failed) or expired."""

    __tablename__ = "device_commands"
    __table_args__ = (
        Index("ix_device_commands_device_open", "device_id", "acked_at", "seq"),
        {"sqlite_autoincrement": True},  # a seq is never handed out twice, even after deletions
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    send_id: Mapped[str] = mapped_column(ForeignKey("command_sends.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)  # first delivery
    acked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)  # server's clock
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # done | failed
    detail: Mapped[str] = mapped_column(String(500), default="")
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)  # device's clock


def audit_inputs(audit: AuditLog) -> None:
    """Commands in the audit trail: each send (the operator's act) and each device's answer
    (done or failed, by the device); handing a command to a device is no change of anyone's."""
    audit.watch(CommandSend, entity="command")
    audit.watch(DeviceCommandRow, entity="device_command", ignore=("delivered_at",))
