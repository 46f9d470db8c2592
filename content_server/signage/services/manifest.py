"""Per-screen manifests (7 days offline) with a stable content-hash version, and emergency state.

``ManifestCache`` keeps the last built manifest per screen keyed by the change generation and
the UTC day, so an unchanged poll costs one indexed query and a dict look-up (304 path), or
nothing at all on the fast path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from content_server.core.changes import CachedGenerations, ChangeTracker
from content_server.signage import scheduling
from content_server.signage.asset_access import AssetGrant
from content_server.signage.models import AnnouncementRow, CampaignRow, Device, HouseRulesRow, Media
from content_server.signage.services import plays
from content_server.signage.services.catalogue import LiveSet, load_live, shared_catalogue, text_item_id
from content_server.signage.services.screens import to_screen
from schedules.model import BASE_KINDS, ContentItem, ItemKind, Priority, for_kinds
from schedules.protocol.device import AssetRef, EmergencyState, Loudness, Manifest, parse_kinds

NO_EMERGENCY = "none"


def _canonical(value: object) -> object:
    """JSON-able form where sets are sorted, so every process hashes the same content alike."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(
            (_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str)
        )
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def _digest(payload: object) -> str:
    blob = json.dumps(_canonical(payload), sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def valid_until(now: dt.datetime, days: int) -> dt.datetime:
    """Start of the next UTC day plus ``days``: at least ``days`` ahead, stable within a day."""
    midnight = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), dt.UTC)
    return midnight + dt.timedelta(days=days + 1)


def emergency_for(
    session: Session, device: Device, now: dt.datetime, live: LiveSet | None = None
) -> EmergencyState:
    """The loudest, then newest, active emergency announcement that targets this screen."""
    screen = to_screen(device)
    live = live or load_live(session, now)
    candidates = [
        (a, t)
        for a, t in live.announcements
        if a.priority == Priority.EMERGENCY.value
        and a.valid_from <= now
        and (a.valid_until is None or a.valid_until > now)
    ]
    candidates.sort(key=lambda at: _emergency_order(at[0]))
    for a, targeting in candidates:
        if scheduling.targets(targeting, screen):
            text = dict(a.text) or {"zh": a.title, "en": a.title}
            item = ContentItem(
                id=text_item_id(a.id),
                kind=ItemKind.TEXT,
                duration_s=max(1.0, a.duration_s),
                text=text,
                title=a.title,
            )
            version = _digest([a.id, a.valid_from, a.updated_at, text])[:16]
            return EmergencyState(
                version=version,
                active=True,
                announcement_id=a.id,
                item=item,
                started_at=a.valid_from,
                loudness=loudness_of(a),
            )
    return EmergencyState(version=NO_EMERGENCY, active=False)


_LOUDNESS_RANK = {Loudness.BANNER_NOTICE: 0, Loudness.BANNER_WARNING: 1, Loudness.FULL_SCREEN: 2}


def _emergency_order(a: AnnouncementRow) -> tuple[int, float, str]:
    """Loudest first, then newest."""
    return (-_LOUDNESS_RANK[loudness_of(a)], -a.valid_from.timestamp(), a.id)


def loudness_of(a: AnnouncementRow) -> Loudness:
    """An emergency's loudness: a CAP alert's own, full screen for an operator's emergency."""
    return Loudness(a.loudness) if a.loudness else Loudness.FULL_SCREEN


def next_emergency_change(session: Session, now: dt.datetime) -> dt.datetime | None:
    """The next instant an emergency starts or ends by the clock alone (no change to any row), so
    long-polls can answer then: a CAP alert effective later, or one that expires."""
    rows = session.execute(
        select(AnnouncementRow.valid_from, AnnouncementRow.valid_until).where(
            AnnouncementRow.state == "active",
            AnnouncementRow.priority == Priority.EMERGENCY.value,
            or_(AnnouncementRow.valid_from > now, AnnouncementRow.valid_until > now),
        )
    ).all()
    moments = [t for row in rows for t in row if t is not None and t > now]
    return min(moments, default=None)


def build(
    session: Session,
    device: Device,
    now: dt.datetime,
    *,
    days: int,
    base_path: str = "/api/v1",
    live: LiveSet | None = None,
) -> Manifest:
    """The screen's manifest; ``live`` (shared by all screens) saves the database round trips."""
    live = live or load_live(session, now)
    screen = to_screen(device)
    shared, shared_digest = shared_catalogue(
        live, screen, now, lambda c: _digest(c.model_dump(mode="python"))
    )
    kinds = device_kinds(device)
    memo_key = ("kinds", shared_digest, tuple(sorted(kinds)))
    found = live.memo.get(memo_key)
    if found is None:  # once per catalogue and set of kinds, as the shared catalogue is
        catalogue = for_kinds(shared, kinds)
        digest = shared_digest if catalogue is shared else _digest(catalogue.model_dump(mode="python"))
        found = live.memo[memo_key] = (catalogue, digest)
    catalogue, catalogue_digest = found
    by_sha = {m.sha256: m for m in sorted(live.media.values(), key=lambda m: m.id, reverse=True)}
    shas = sorted({i.asset_sha256 for i in catalogue.items.values() if i.asset_sha256})
    assets = tuple(
        AssetRef(
            sha256=sha,
            size=by_sha[sha].size,
            media_type=by_sha[sha].media_type,
            url=f"{base_path}/assets/{sha}",
        )
        for sha in shas
        if sha in by_sha
    )
    body = {
        "valid_until": valid_until(now, days),
        "screen": screen,
        "catalogue": catalogue,
        "assets": assets,
        "emergency": emergency_for(session, device, now, live),
        "default_item_id": next(
            (i for i in catalogue.filler_item_ids if screen.orientation in catalogue.items[i].orientations),
            catalogue.filler_item_ids[0] if catalogue.filler_item_ids else None,
        ),
    }
    probe = Manifest(version="", generated_at=now, **body)
    parts = probe.model_dump(mode="python", exclude={"version", "generated_at", "catalogue"})
    parts["catalogue"] = catalogue_digest
    return probe.model_copy(update={"version": _digest(parts)})


def kinds_of(query: str | None) -> frozenset[ItemKind]:
    """The item kinds a player plays: the base ones and the optional ones it names (``web,stream``)."""
    return BASE_KINDS | parse_kinds(query)


def device_kinds(device: Device) -> frozenset[ItemKind]:
    return kinds_of(",".join(device.item_kinds or ()))


def for_request(
    cache: ManifestCache, session: Session, device: Device, now: dt.datetime, *, days: int, kinds: str | None
) -> tuple[Manifest, bytes]:
    """A manifest poll: remembers the optional kinds the player named (``?kinds=``; committed only
    when they change, which moves the change generation), then the device's manifest for them."""
    named = sorted(k.value for k in parse_kinds(kinds))
    if sorted(device.item_kinds or ()) != named:
        device.item_kinds = named
        session.commit()
    return cache.get(session, device, now, days=days)


# what of a device feeds its manifest (and, once revoked or re-keyed, the fast path's trust)
DEVICE_INPUTS = frozenset(
    {"name", "kind", "screen_class", "orientation", "width", "height", "groups", "tags", "timezone", "hours",
     "revoked_at", "key_sha256", "item_kinds"}
)  # fmt: skip


def watch_inputs(tracker: ChangeTracker) -> None:
    """Declare what manifests are built from: any change to these moves the change generation.

    New media and new (pending) campaigns feed nothing until an edit or a decision does; a
    change to a device can change its emergency (groups) or end its key, so it wakes long-polls.
    """
    tracker.watch(Device, inserts=False, columns=DEVICE_INPUTS, emergency=lambda _device: True)
    tracker.watch(Media, inserts=False)
    tracker.watch(CampaignRow, inserts=False)
    tracker.watch(AnnouncementRow, emergency=lambda row: row.priority == Priority.EMERGENCY.value)
    tracker.watch(HouseRulesRow)


@dataclass
class _Entry:
    key: tuple[int, dt.date]
    manifest: Manifest
    body: bytes
    grant: AssetGrant
    kinds: frozenset[ItemKind]


def served(device: Device, manifest: Manifest, now: dt.datetime) -> AssetGrant:
    """Record that ``device`` was served ``manifest``: its version, and what it may now download
    (this manifest's assets and the previous one's; see ``asset_access``)."""
    before = AssetGrant.of(device.served_assets or (), device.previous_assets or ())
    grant = before.after(a.sha256 for a in manifest.assets)
    if device.served_manifest != manifest.version:
        device.served_manifest = manifest.version
        device.served_manifest_since = now
    if grant != before:
        device.served_assets = sorted(grant.current)
        device.previous_assets = sorted(grant.previous)
    return grant


class ManifestCache:
    """Last manifest per device, valid while the change generation and the UTC day are the same.

    The live set (announcements, campaigns, media) is loaded once per generation and shared.
    ``fresh_manifest`` answers the poll and download fast path from memory, trusting the
    process's cached generation (``CachedGenerations``: read at most ``poll_cache_s`` ago on the
    injected clock, dropped at once after a local change), so a change reaches a screen within
    that time.
    """

    def __init__(self, generations: CachedGenerations) -> None:
        self._generations = generations
        self._entries: dict[str, _Entry] = {}
        self._live: tuple[tuple[int, dt.date], LiveSet] | None = None
        self._lock = threading.Lock()

    def get(self, session: Session, device: Device, now: dt.datetime, *, days: int) -> tuple[Manifest, bytes]:
        """The device's manifest and its JSON; records (and commits) which version it was served."""
        key = (self._generations.read(session)[0], now.astimezone(dt.UTC).date())
        with self._lock:
            entry = self._entries.get(device.id)
            live = self._live[1] if self._live is not None and self._live[0] == key else None
        kinds = device_kinds(device)
        if entry is not None and entry.key == key and entry.kinds == kinds:
            return entry.manifest, entry.body
        if live is None:
            live = load_live(session, now)
            with self._lock:
                self._live = (key, live)
        manifest = build(session, device, now, days=days, live=live)
        body = manifest.model_dump_json().encode()
        grant = served(device, manifest, now)
        # what the device's proof of play will be checked against (once per version)
        remembered = plays.remember_served(session, device, manifest, now)
        if remembered or session.dirty or session.new:
            session.commit()
        with self._lock:
            self._entries[device.id] = _Entry(key, manifest, body, grant, kinds)
        return manifest, body

    def fresh_manifest(self, device_id: str, now: dt.datetime) -> Manifest | None:
        """The device's cached manifest if it is certainly current, else None (no database)."""
        entry = self._fresh(device_id, now)
        return None if entry is None else entry.manifest

    def fresh_grant(
        self, device_id: str, now: dt.datetime, kinds: frozenset[ItemKind] | None = None
    ) -> tuple[Manifest, AssetGrant] | None:
        """The device's current manifest and what it may download, if certainly current (and made
        for these item kinds, when given: a player that now names others gets a new one)."""
        entry = self._fresh(device_id, now)
        if entry is None or (kinds is not None and entry.kinds != kinds):
            return None
        return entry.manifest, entry.grant

    def _fresh(self, device_id: str, now: dt.datetime) -> _Entry | None:
        entry = self._entries.get(device_id)
        current = self._generations.current()
        if entry is None or current is None or entry.key != (current[0], now.astimezone(dt.UTC).date()):
            return None
        return entry

    def forget(self, device_id: str) -> None:
        with self._lock:
            self._entries.pop(device_id, None)
