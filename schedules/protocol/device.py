"""Wire format between the content server and signage devices (players and kiosks), version 1.

Defined once here and imported by both sides. Routes (all under ``/api/v1``, JSON, device
routes authenticated with ``Authorization: Bearer <device_key>``):

- ``POST /devices/pairing`` (no auth) body :class:`PairingRequest` -> :class:`PairingStarted`
- ``POST /devices/pairing/{pairing_id}/poll`` body :class:`PairingPoll` -> :class:`PairingStatus`
- ``GET  /device/manifest?kinds=web,stream`` -> :class:`Manifest`, with a strong ``ETag``; ``If-None-Match``
  -> 304. ``kinds`` names the item kinds beyond image, video and text the player plays (v1.2, see
  :data:`schedules.model.LIVE_KINDS`); without it the manifest holds none of them
- ``GET  /assets/{sha256}`` -> bytes; ``Range``, ``ETag`` (= sha256), ``If-None-Match``
- ``POST /device/heartbeat`` body :class:`Heartbeat` -> :class:`HeartbeatReply`
- ``POST /device/plays`` body :class:`PlayBatch` -> :class:`PlayBatchResult` (idempotent by record id;
  only plays a manifest served to the device vouches for are kept, the rest counted by reason)
- ``POST /device/screenshot`` body ``image/png`` bytes -> 204
- ``GET  /device/emergency?known=<version>&wait=<s>`` -> :class:`EmergencyState` (long-poll:
  returns at once when the version differs from ``known``, else after at most ``wait`` s)
- ``GET  /updates/metadata/<name>``, ``GET /updates/targets/<hash>.<file>``: the TUF repository of
  software releases (:mod:`schedules.protocol.release`); 404 for what is not there
- ``GET  /device/commands?after=<seq>&wait=<s>`` -> :class:`CommandList` (long-poll, the emergency
  long-poll's sibling: returns at once when a command numbered above ``after`` waits for this
  device, else when one is sent, or after at most ``wait`` s with none)
- ``POST /device/commands/{command_id}/ack`` body :class:`CommandAck` -> 204 (idempotent; 404 for
  a command that is not this device's)

Fields added after version 1 first shipped are optional with defaults, so what an older device
sends still parses.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schedules.model import LIVE_KINDS, Catalogue, ContentItem, ItemKind, Screen
from schedules.protocol.release import UpdateAssignment, UpdateReport

PROTOCOL_VERSION = 1
MAX_PLAY_BATCH = 1000
MAX_KINDS_QUERY = 200


def kinds_query(kinds: frozenset[ItemKind]) -> str:
    """The ``kinds`` query value a player sends for the optional kinds it plays (sorted, stable)."""
    return ",".join(sorted(k.value for k in kinds & LIVE_KINDS))


def parse_kinds(query: str | None) -> frozenset[ItemKind]:
    """The optional kinds a ``kinds`` query value names; names this server does not know are ignored
    (a newer player asking an older server gets what the server has)."""
    names = {n.strip() for n in (query or "").split(",")}
    return frozenset(k for k in LIVE_KINDS if k.value in names)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PairingRequest(_Wire):
    device_kind: str = Field(pattern="^(player|kiosk)$")
    player_version: str = Field(max_length=64)
    public_key: str = Field(max_length=128)  # device's Ed25519 public key, base64 (raw 32 bytes)


class PairingStarted(_Wire):
    pairing_id: str
    code: str  # short code shown large on screen, e.g. "482-913"
    poll_secret: str
    claim_url: str  # the portal page an operator opens (encoded in the on-screen QR)
    expires_at: dt.datetime


class PairingPoll(_Wire):
    poll_secret: str = Field(max_length=128)


class PairingStatus(_Wire):
    claimed: bool
    device_id: str | None = None
    device_key: str | None = None  # bearer token; handed out once
    server_public_key: str | None = None  # Ed25519, base64: verifies signed offline bundles


class AssetRef(_Wire):
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    media_type: str
    url: str  # absolute, or relative to the server's base URL


class Loudness(StrEnum):
    """How an alert takes the screen (a CAP alert's severity, urgency and certainty decide)."""

    BANNER_NOTICE = "banner_notice"  # a quiet banner over the programme
    BANNER_WARNING = "banner_warning"  # a red banner over the programme
    FULL_SCREEN = "full_screen"  # red, the whole screen, the programme stops


class EmergencyState(_Wire):
    """The current emergency for this screen; ``active`` False means none."""

    version: str  # changes whenever an emergency starts or ends
    active: bool
    announcement_id: str | None = None
    item: ContentItem | None = None  # always a TEXT item, so it needs no download
    started_at: dt.datetime | None = None  # when this version went live (its start, or its last change)
    # Left out when full screen (what every emergency was before), so older players still parse it.
    loudness: Loudness = Field(Loudness.FULL_SCREEN, exclude_if=lambda v: v is Loudness.FULL_SCREEN)


class Manifest(_Wire):
    """What one screen needs to run for the next 7 days offline."""

    protocol_version: int = PROTOCOL_VERSION
    version: str  # content hash of everything below except generated_at; equals the ETag
    generated_at: dt.datetime
    valid_until: dt.datetime
    screen: Screen
    catalogue: Catalogue
    assets: tuple[AssetRef, ...] = ()
    emergency: EmergencyState | None = None
    default_item_id: str | None = None  # the community's default slide (also in catalogue)


class PeripheralStatus(_Wire):
    """One peripheral a kiosk expects: whether it is plugged in and whether it answers."""

    name: Literal["scanner", "printer", "speaker", "touchscreen"]
    present: bool
    working: bool
    model: str = Field("", max_length=100)  # what the device calls itself (USB model name)


class Heartbeat(_Wire):
    sent_at: dt.datetime
    player_version: str = Field(max_length=64)
    manifest_version: str | None = None  # the manifest actually in play
    current_item_id: str | None = None
    missing_assets: tuple[str, ...] = ()
    failed_items: tuple[str, ...] = ()  # items skipped because they would not decode/play
    cache_bytes: int = Field(0, ge=0)
    free_disk_bytes: int = Field(0, ge=0)
    rss_bytes: int = Field(0, ge=0)
    last_sync_at: dt.datetime | None = None
    # kiosks: the page on show (a screen's name, never what a resident typed), the peripherals,
    # and the service catalogue in use (its version and when the server last confirmed it)
    page: str | None = Field(None, max_length=32, pattern="^[a-z_]+$")
    peripherals: tuple[PeripheralStatus, ...] = Field((), max_length=16)
    catalogue_version: str | None = Field(None, max_length=64)
    catalogue_synced_at: dt.datetime | None = None
    screen_hash: str | None = Field(None, max_length=64)  # small perceptual hash of the picture
    errors: tuple[str, ...] = Field((), max_length=50)
    outbox_length: int = Field(0, ge=0)
    # the EmergencyState.version in play ("none" when none); added in v1.1, left out when unknown
    emergency_version: str | None = Field(None, max_length=64, exclude_if=lambda v: v is None)
    update: UpdateReport | None = None  # software version and update state (docs/updates.md)


class HeartbeatReply(_Wire):
    server_time: dt.datetime
    screenshot_requested: bool = False
    manifest_version: str  # latest for this screen: a cheap hint to sync now
    update: UpdateAssignment | None = None  # the software version to run, when it is not the current one


class PlayRecord(_Wire):
    id: uuid.UUID  # made on the device; the server counts each id once
    item_id: str
    campaign_id: str | None = None
    announcement_id: str | None = None
    started_at: dt.datetime
    duration_s: float = Field(ge=0, le=86400)
    completed: bool  # False when cut short (emergency, error, power off)


class PlayBatch(_Wire):
    records: list[PlayRecord] = Field(max_length=MAX_PLAY_BATCH)


class PlayBatchResult(_Wire):
    """Refused records (not vouched for by a manifest served to the device, too long, overlapping,
    malformed ids, ...) are acknowledged too: sending them again would not change the verdict."""

    accepted: int
    duplicates: int
    refused: int = 0
    refused_reasons: dict[str, int] = Field(default_factory=dict)  # reason -> count


# -- remote commands ---------------------------------------------------------------------------


class CommandKind(StrEnum):
    RESTART_APP = "restart_app"  # end the app; its service manager starts it again
    REBOOT = "reboot"  # the device's configured reboot command
    SYNC_NOW = "sync_now"
    CLEAR_CACHE = "clear_cache"  # drop cached content and fetch it again
    SCREENSHOT = "screenshot"  # upload one now (POST /device/screenshot)
    IDENTIFY = "identify"  # the screen's name and id large on screen for ``IDENTIFY_SECONDS``
    SCREEN_POWER = "screen_power"  # ``screen_on`` says which
    SET_VOLUME = "set_volume"  # ``volume`` in percent


IDENTIFY_SECONDS = 30


class DeviceCommand(_Wire):
    """One command for one device; ``device_id`` is its addressee (a device refuses another's)."""

    id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=1)  # increases with every command the server issues; the poll's ``after``
    device_id: str = Field(max_length=64)
    kind: CommandKind
    screen_on: bool | None = None  # SCREEN_POWER
    volume: int | None = Field(None, ge=0, le=100)  # SET_VOLUME
    screen_name: str | None = Field(None, max_length=200)  # IDENTIFY: the name operators gave it
    issued_at: dt.datetime
    expires_at: dt.datetime

    @model_validator(mode="after")
    def _parameters(self) -> DeviceCommand:
        if (self.kind is CommandKind.SCREEN_POWER) != (self.screen_on is not None):
            raise ValueError("screen_on goes with screen_power, and only with it")
        if (self.kind is CommandKind.SET_VOLUME) != (self.volume is not None):
            raise ValueError("volume goes with set_volume, and only with it")
        return self


class CommandList(_Wire):
    commands: list[DeviceCommand] = Field(default_factory=list, max_length=100)


class CommandOutcome(StrEnum):
    DONE = "done"
    FAILED = "failed"


class CommandAck(_Wire):
    """What became of a command on the device, and when it finished there (the device's clock)."""

    outcome: CommandOutcome
    detail: str = Field("", max_length=500)
    finished_at: dt.datetime
