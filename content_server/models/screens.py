"""Devices (screens and kiosks), pairing requests and their latest reported state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from content_server.core.models import Base, UTCDateTime, new_id


class Device(Base):
    """A paired player or kiosk. The bearer key is stored only as SHA-256."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))  # player | kiosk
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[str] = mapped_column(String(128), default="")
    screen_class: Mapped[str] = mapped_column(String(32))
    orientation: Mapped[str] = mapped_column(String(16), default="landscape")
    width: Mapped[int] = mapped_column(Integer, default=1920)
    height: Mapped[int] = mapped_column(Integer, default=1080)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # schedules.model.OperatingHours
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # latest heartbeat
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    player_version: Mapped[str] = mapped_column(String(64), default="")
    playing_manifest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_heartbeat: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    screen_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    screen_hash_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # manifest version the server last computed, and since when it has been current
    served_manifest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    served_manifest_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    screenshot_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    screenshot_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    screenshot_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Pairing(Base):
    """A pending pairing code; once claimed it carries the new key until the device fetches it."""

    __tablename__ = "pairings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(16), index=True)
    poll_secret_sha256: Mapped[str] = mapped_column(String(64))
    device_kind: Mapped[str] = mapped_column(String(16))
    player_version: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), nullable=True, index=True
    )
    pending_key: Mapped[str | None] = mapped_column(String(128), nullable=True)  # cleared once delivered
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)

