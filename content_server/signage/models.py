"""Signage tables: devices (screens and kiosks) and pairing, the content library, announcements,
campaigns, proof-of-play records and alert feeds (Alembic branch ``signage``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from content_server.core.audit.services import AuditLog
from content_server.core.models import Base, UTCDateTime, new_id


class Media(Base):
    """An uploaded image or video owned by one account; bytes live in the SHA-256 store.

    An operator's web page or live stream (``kind`` web | stream) has no file: its ``url`` (and for
    a page the allowed hosts and load timeout) is what screens get; ``sha256`` is then the hash of
    that address, so the same page added twice is found again.
    """

    __tablename__ = "media"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # image | video | web | stream
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)  # real for video, display time for images
    codec: Mapped[str] = mapped_column(String(32), default="")
    filename: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filler: Mapped[bool] = mapped_column(Boolean, default=False)  # operator's default/filler slide
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # the upload as it came (duplicates); ``sha256`` is the rebuilt or transcoded file, the only one served
    source_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default="ready")  # ready | processing | failed
    progress: Mapped[float] = mapped_column(Float, default=1.0)  # 0..1 while a transcoding job runs
    problem: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # {"zh", "en"} when failed
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)  # why it is transcoded (codes)
    screen_classes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # None: every class
    url: Mapped[str | None] = mapped_column(Text, nullable=True)  # web | stream
    allowed_hosts: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # web
    load_timeout_s: Mapped[float | None] = mapped_column(Float, nullable=True)  # web
    # one slide drawn for several screen shapes: the variants share this key (a screen plays the
    # nearest; see catalogue.nearest_variants); None for uploads
    variant_of: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class AnnouncementRow(Base):
    """An operator's announcement (normal, important or emergency)."""

    __tablename__ = "announcements"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # lang -> text slide
    ticker_text: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    media_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration_s: Mapped[float] = mapped_column(Float, default=10.0)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    targeting: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | paused | ended
    source: Mapped[str] = mapped_column(String(16), default="operator")  # operator | cap
    # CAP alerts: full_screen | banner_warning | banner_notice (see signage/cap_policy.py)
    loudness: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CampaignRow(Base):
    """An advertiser's booking request and its approval state."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    advertiser_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    media_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    flight_start: Mapped[dt.date] = mapped_column(Date)
    flight_end: Mapped[dt.date] = mapped_column(Date)
    dayparts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rrule: Mapped[str | None] = mapped_column(String(200), nullable=True)
    targeting: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    share_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    plays_per_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frequency_cap_per_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # pending | approved | rejected | paused | ended
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    availability: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PlayRow(Base):
    """One proof-of-play record; the device-made id makes ingest idempotent."""

    __tablename__ = "plays"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    announcement_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    duration_s: Mapped[float] = mapped_column(Float)
    completed: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AlertFeed(Base):
    """An authorised CAP feed; its HMAC secret is derived from the server secret, never stored."""

    __tablename__ = "alert_feeds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    area_groups: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)  # areaDesc -> groups
    # cap_policy.AreaMapping as JSON (names in both languages, geocodes); None: built from area_groups
    area_mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class CapAlert(Base):
    """A received CAP alert (identifier unique per sender), for idempotency and audit."""

    __tablename__ = "cap_alerts"
    __table_args__ = (UniqueConstraint("sender", "identifier"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    feed_id: Mapped[str] = mapped_column(ForeignKey("alert_feeds.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(255))
    msg_type: Mapped[str] = mapped_column(String(16))
    announcement_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    announcement_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # one per phase and group set
    refs: Mapped[list[list[str]]] = mapped_column(JSON, default=list)  # [sender, identifier] it ends
    outcome: Mapped[str] = mapped_column(String(16), default="")  # cap_policy.Outcome


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
    # assets of the manifest served last and of the one before: all this screen may download
    served_assets: Mapped[list[str]] = mapped_column(JSON, default=list)
    previous_assets: Mapped[list[str]] = mapped_column(JSON, default=list)
    screenshot_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    screenshot_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    screenshot_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the optional item kinds (web, stream) the player said it plays when it last asked for its manifest
    item_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)


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



class HouseRulesRow(Base):
    """House rules an operator set for a screen class or a screen group (unset fields: defaults)."""

    __tablename__ = "house_rules"
    __table_args__ = (UniqueConstraint("scope", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(8))  # class | group
    name: Mapped[str] = mapped_column(String(64))  # the screen class or the group
    loop_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_announcement_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_ad_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    min_dwell_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class ServedManifestRow(Base):
    """A manifest version served to a device (``signage.proof_of_play.ServedManifest`` as JSON):
    what the device's proof of play is checked against, kept for the offline window."""

    __tablename__ = "served_manifests"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    served_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)


class PlayRefusalRow(Base):
    """Refused proof-of-play records per device, UTC minute and reason: the refused-plays report
    adds them up by day, the fleet's ``refused_plays`` alert over its last N minutes."""

    __tablename__ = "play_refusals"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)  # the UTC minute's start
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# what a device reports about itself: telemetry, not changes anyone made
DEVICE_TELEMETRY = ("last_seen_at", "player_version", "playing_manifest", "last_heartbeat", "screen_hash",
                    "screen_hash_since", "served_manifest", "served_manifest_since", "served_assets",
                    "previous_assets", "screenshot_sha256", "screenshot_at")  # fmt: skip


def audit_inputs(audit: AuditLog) -> None:
    """Which signage tables the audit trail follows (plays and pairing requests are records of
    their own and far too many; heartbeats are telemetry)."""
    audit.watch(Media, entity="media", ignore=("progress",))  # a transcoding job's progress is no change
    audit.watch(AnnouncementRow, entity="announcement", ignore=("updated_at",))
    audit.watch(CampaignRow, entity="campaign", ignore=("availability", "updated_at"))
    audit.watch(Device, entity="screen", ignore=DEVICE_TELEMETRY, redact=("key_sha256",))
    audit.watch(AlertFeed, entity="alert_feed")
    audit.watch(CapAlert, entity="cap_alert")
    audit.watch(HouseRulesRow, entity="house_rules", ignore=("updated_at",))
