"""Update tables (Alembic branch ``updates``): published releases, rollouts, group pins, each device's
last update report, and rollout events the portal shows until an operator has seen them.

The signed truth (which releases exist, their files and hashes) is the TUF repository on disk;
``update_releases`` is the server's index of it for pages and rollouts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from content_server.core.models import Base, UTCDateTime, new_id


class ReleaseRow(Base):
    __tablename__ = "update_releases"
    __table_args__ = (UniqueConstraint("version", "platform"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    version: Mapped[str] = mapped_column(String(64), index=True)
    platform: Mapped[str] = mapped_column(String(64))
    package: Mapped[str] = mapped_column(String(100))
    wheels: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    targets_version: Mapped[int] = mapped_column(Integer)  # the signed targets that published it
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RolloutRow(Base):
    __tablename__ = "update_rollouts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    version: Mapped[str] = mapped_column(String(64))
    waves: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"name", "groups", "percent"}]
    scope_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_failure_share: Mapped[float] = mapped_column(Float)
    allow_downgrade: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), index=True)
    opened: Mapped[int] = mapped_column(Integer, default=1)
    accepted_failures_wave: Mapped[int] = mapped_column(Integer, default=-1)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PinRow(Base):
    """A device group held at one version (outside every rollout) until unpinned."""

    __tablename__ = "update_pins"

    group: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    allow_downgrade: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DeviceUpdateRow(Base):
    """A device's last :class:`UpdateReport` (from its heartbeat) and what it was last told to run."""

    __tablename__ = "device_updates"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    running_version: Mapped[str] = mapped_column(String(64), index=True)
    phase: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    assigned_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assigned_source: Mapped[str] = mapped_column(String(100), default="")


class RolloutEventRow(Base):
    """Something an operator must hear about (a rollout paused itself); shown until acknowledged."""

    __tablename__ = "update_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rollout_id: Mapped[str] = mapped_column(ForeignKey("update_rollouts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    devices: Mapped[list[str]] = mapped_column(JSON, default=list)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
