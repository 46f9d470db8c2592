"""Screens and kiosks: pairing, claiming, settings, revocation, heartbeats."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import CursorResult, delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core import throttle_store
from content_server.core.audit.services import SYSTEM, Actor, act_as
from content_server.core.errors import Invalid, NotFound, ServerError
from content_server.core.models import AuthToken
from content_server.core.security import sha256_hex
from content_server.core.settings import Settings
from content_server.core.store import MediaStore, StagedFile
from content_server.signage import health as health_mod
from content_server.signage import scheduling
from content_server.signage.health import Health, Thresholds
from content_server.signage.models import Device, Media, Pairing, PlayRefusalRow, ServedManifestRow
from content_server.signage.screenshots import BadScreenshot, Refusal, ScreenshotPolicy, reencode
from schedules.clock import Clock
from schedules.errors import ScheduleError
from schedules.model import OperatingHours, Orientation, Screen, ScreenClass
from schedules.protocol.device import PairingRequest, PairingStarted, PairingStatus

log = logging.getLogger(__name__)


class ScreenSettings(BaseModel):
    """What an operator sets when claiming or editing a screen."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    screen_class: ScreenClass
    orientation: Orientation = Orientation.LANDSCAPE
    width: int = Field(1920, ge=64, le=16384)
    height: int = Field(1080, ge=64, le=16384)
    groups: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=50)
    timezone: str = Field("Asia/Shanghai", max_length=64)
    hours: OperatingHours = OperatingHours()


class ScreenPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    screen_class: ScreenClass | None = None
    orientation: Orientation | None = None
    width: int | None = Field(None, ge=64, le=16384)
    height: int | None = Field(None, ge=64, le=16384)
    groups: list[str] | None = Field(None, max_length=50)
    tags: list[str] | None = Field(None, max_length=50)
    timezone: str | None = Field(None, max_length=64)
    hours: OperatingHours | None = None


def _new_code() -> str:
    n = secrets.randbelow(1_000_000)
    return f"{n // 1000:03d}-{n % 1000:03d}"


def start_pairing(
    session: Session, req: PairingRequest, *, now: dt.datetime, public_url: str, ttl_s: int
) -> PairingStarted:
    """Create a pairing with a short code unique among the live ones."""
    live_codes = set(
        session.scalars(select(Pairing.code).where(Pairing.expires_at > now, Pairing.device_id.is_(None)))
    )
    code = _new_code()
    while code in live_codes:
        code = _new_code()
    secret = secrets.token_urlsafe(24)
    p = Pairing(
        code=code,
        poll_secret_sha256=sha256_hex(secret),
        device_kind=req.device_kind,
        player_version=req.player_version,
        public_key=req.public_key,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl_s),
    )
    session.add(p)
    session.commit()
    return PairingStarted(
        pairing_id=p.id,
        code=code,
        poll_secret=secret,
        claim_url=f"{public_url.rstrip('/')}/portal/screens/claim?code={code}",
        expires_at=p.expires_at,
    )


def poll_pairing(
    session: Session, pairing_id: str, poll_secret: str, *, now: dt.datetime, server_public_key: str
) -> PairingStatus:
    """The device asks whether it was claimed; the key is handed out exactly once."""
    p = session.get(Pairing, pairing_id)
    if p is None or not secrets.compare_digest(p.poll_secret_sha256, sha256_hex(poll_secret)):
        raise NotFound("unknown pairing")
    if p.device_id is None:
        if p.expires_at <= now:
            raise NotFound("pairing code expired; start again")
        return PairingStatus(claimed=False)
    if p.delivered or p.pending_key is None:
        raise NotFound("this pairing was already completed")
    key = p.pending_key
    p.pending_key = None
    p.delivered = True
    session.commit()
    return PairingStatus(
        claimed=True, device_id=p.device_id, device_key=key, server_public_key=server_public_key
    )


def claim(session: Session, code: str, settings: ScreenSettings, *, now: dt.datetime) -> Device:
    """An operator claims a live code: creates the device and prepares its key for the next poll."""
    _check(settings)
    p = session.scalar(
        select(Pairing).where(
            Pairing.code == code.strip(), Pairing.expires_at > now, Pairing.device_id.is_(None)
        )
    )
    if p is None:
        raise NotFound("no pending pairing with this code (expired or already claimed?)")
    key = secrets.token_urlsafe(32)
    device = Device(
        kind=p.device_kind,
        key_sha256=sha256_hex(key),
        public_key=p.public_key,
        player_version=p.player_version,
        created_at=now,
        **_settings_columns(settings),
    )
    session.add(device)
    session.flush()
    p.device_id = device.id
    p.pending_key = key
    session.commit()
    log.info("paired %s %s (%s)", device.kind, device.id, device.name)
    return device


def _check(settings: ScreenSettings) -> None:
    try:
        screen = Screen(
            id="x", screen_class=settings.screen_class, timezone=settings.timezone, hours=settings.hours
        )
    except ValidationError as exc:
        raise Invalid(f"timezone: unknown time zone {settings.timezone!r}") from exc
    scheduling.validate_screen(screen)


def _settings_columns(s: ScreenSettings) -> dict[str, object]:
    return {
        "name": s.name,
        "screen_class": s.screen_class.value,
        "orientation": s.orientation.value,
        "width": s.width,
        "height": s.height,
        "groups": sorted(set(s.groups)),
        "tags": sorted(set(s.tags)),
        "timezone": s.timezone,
        "hours": s.hours.model_dump(mode="json"),
    }


def clean_up(session: Session, *, now: dt.datetime) -> int:
    """Drop pairing requests a day past expiry, expired log-in tokens, throttle counters every policy
    has forgotten, served manifests that can vouch for no play any more and play-refusal counts past
    the report's month (unauthenticated callers can create pairings and counters: they must not
    pile up)."""
    day_ago = now - dt.timedelta(days=1)
    stale = delete(Pairing).where(
        Pairing.expires_at < day_ago, or_(Pairing.device_id.is_(None), Pairing.delivered)
    )
    old_served = delete(ServedManifestRow).where(ServedManifestRow.valid_until < now - SERVED_KEPT)
    old_refusals = delete(PlayRefusalRow).where(PlayRefusalRow.minute < now - REFUSALS_KEPT)
    gone = throttle_store.prune(session, now - throttle_store.HORIZON)
    for stmt in (stale, delete(AuthToken).where(AuthToken.expires_at < now), old_served, old_refusals):
        result = cast(CursorResult[Any], session.execute(stmt))
        gone += result.rowcount or 0
    session.commit()
    return gone


SERVED_KEPT = dt.timedelta(days=32)  # beyond any offline window (manifest_days <= 31)
REFUSALS_KEPT = dt.timedelta(days=32)  # the refused-plays report looks back at most 31 days


def all_devices(session: Session) -> list[Device]:
    """Every paired device, by name (revoked ones included)."""
    return list(session.scalars(select(Device).order_by(Device.name, Device.id)))


def live_screens(session: Session) -> list[Screen]:
    """Every screen that plays (not revoked), as the engine sees it."""
    return [to_screen(d) for d in all_devices(session) if d.revoked_at is None]


def group_names(session: Session) -> list[str]:
    """Group names in use on live screens."""
    return sorted({g for d in all_devices(session) if d.revoked_at is None for g in d.groups or ()})


def building_tags(session: Session) -> list[str]:
    """Building numbers (``building:<n>`` tags) in use on live screens."""
    return sorted(
        {
            t.split(":", 1)[1]
            for d in all_devices(session)
            if d.revoked_at is None
            for t in d.tags or ()
            if t.startswith("building:")
        }
    )


def get_device(session: Session, device_id: str) -> Device:
    d = session.get(Device, device_id)
    if d is None:
        raise NotFound("unknown screen")
    return d


def update(session: Session, device_id: str, patch: ScreenPatch, *, now: dt.datetime) -> Device:
    d = get_device(session, device_id)
    merged = ScreenSettings(
        name=patch.name or d.name,
        screen_class=patch.screen_class or ScreenClass(d.screen_class),
        orientation=patch.orientation or Orientation(d.orientation),
        width=patch.width or d.width,
        height=patch.height or d.height,
        groups=patch.groups if patch.groups is not None else list(d.groups),
        tags=patch.tags if patch.tags is not None else list(d.tags),
        timezone=patch.timezone or d.timezone,
        hours=patch.hours or OperatingHours.model_validate(d.hours or {}),
    )
    _check(merged)
    for k, v in _settings_columns(merged).items():
        setattr(d, k, v)
    session.commit()
    return d


def revoke(session: Session, device_id: str, *, now: dt.datetime) -> Device:
    d = get_device(session, device_id)
    if d.revoked_at is None:
        d.revoked_at = now  # the change tracker (and a trigger) move the generation: no fast path keeps it
        session.commit()
    log.info("revoked device %s", device_id)
    return d


def request_screenshot(session: Session, device_id: str) -> Device:
    """The device hears it in its next heartbeat reply and uploads a PNG."""
    d = get_device(session, device_id)
    d.screenshot_requested = True
    session.commit()
    return d


def latest_screenshot(session: Session, device_id: str) -> str:
    """The SHA-256 of the screen's latest screenshot in the media store (404 when there is none)."""
    d = get_device(session, device_id)
    if d.screenshot_sha256 is None:
        raise NotFound("no screenshot yet")
    return d.screenshot_sha256


def check_screenshot_wanted(d: Device, policy: ScreenshotPolicy, now: dt.datetime) -> None:
    """Refuse an upload nobody asked for (409) or one too soon after the last (429)."""
    refusal = policy.refusal(d.screenshot_requested, d.screenshot_at, now)
    if refusal is not None:
        raise ScreenshotRefused(refusal)


def store_screenshot(
    sessions: sessionmaker[Session],
    device_id: str,
    staged: StagedFile,
    store: MediaStore,
    policy: ScreenshotPolicy,
    clock: Clock,
    *,
    actor: Actor = SYSTEM,
) -> None:
    """Keep a device's uploaded screenshot as its only one. Blocking, with its own short session:
    run it on a worker thread once the upload is staged. The upload is decoded and re-encoded
    (422 unless it is a PNG within the pixel limit); nothing of its own bytes is kept."""
    try:
        png = reencode(staged.path, policy)
    except BadScreenshot as exc:
        raise Invalid(str(exc)) from None
    finally:
        staged.discard()
    now = clock.now()
    with sessions() as session:
        act_as(session, actor)
        d = get_device(session, device_id)
        check_screenshot_wanted(d, policy, now)  # again: of two uploads racing for one request, one
        old = d.screenshot_sha256
        d.screenshot_sha256 = store.put_bytes(png)
        d.screenshot_at = now
        d.screenshot_requested = False
        session.commit()
        if old is not None and old != d.screenshot_sha256 and not _blob_in_use(session, old):
            store.path_for(old).unlink(missing_ok=True)


def _blob_in_use(session: Session, sha: str) -> bool:
    """A screenshot's bytes may equal an upload's or another screen's: delete only unused ones."""
    by_media = select(Media.id).where(or_(Media.sha256 == sha, Media.thumbnail_sha256 == sha)).limit(1)
    by_device = select(Device.id).where(Device.screenshot_sha256 == sha).limit(1)
    return session.scalar(by_media) is not None or session.scalar(by_device) is not None


class ScreenshotRefused(ServerError):
    """Nobody asked (409), or the last one was accepted moments ago (429)."""

    def __init__(self, refusal: Refusal) -> None:
        asked = refusal is not Refusal.NOT_REQUESTED
        super().__init__("screenshot sent too soon" if asked else "no screenshot was requested")
        self.status_code = 429 if asked else 409
        self.refusal = refusal


def to_screen(d: Device) -> Screen:
    """The scheduling engine's view of a device."""
    return Screen(
        id=d.id,
        name=d.name,
        screen_class=ScreenClass(d.screen_class),
        orientation=Orientation(d.orientation),
        width=d.width,
        height=d.height,
        groups=frozenset(d.groups or ()),
        tags=frozenset(d.tags or ()),
        timezone=d.timezone,
        hours=OperatingHours.model_validate(d.hours or {}),
    )


def health(
    session: Session, d: Device, *, now: dt.datetime, settings: Settings, latest: str | None
) -> Health:
    """Online / sync / frozen for one device, with the schedule consulted for frozen detection."""
    limits = Thresholds(
        offline_after=dt.timedelta(seconds=settings.offline_after_s),
        behind_after=dt.timedelta(seconds=settings.behind_after_s),
        frozen_after=dt.timedelta(seconds=settings.frozen_after_s),
    )
    changes = False
    if d.screen_hash_since is not None and now - d.screen_hash_since > limits.frozen_after:
        from content_server.signage.services.catalogue import catalogue_for

        screen = to_screen(d)
        try:
            window = scheduling.slots(
                screen, catalogue_for(session, [screen], now), now - limits.frozen_after, now
            )
        except ScheduleError as exc:  # nothing schedulable (no filler yet): cannot call it frozen
            log.info("no timeline for %s: %s", d.id, exc)
            window = []
        changes = health_mod.expected_changes(window)
    return health_mod.assess(
        now=now,
        last_seen=d.last_seen_at,
        heartbeat=d.last_heartbeat,
        playing=d.playing_manifest,
        latest=latest,
        latest_since=d.served_manifest_since,
        hash_since=d.screen_hash_since,
        schedule_changes=changes,
        limits=limits,
        kiosk=d.kind == "kiosk",
    )
