"""Per-screen manifests (7 days offline) with a stable content-hash version, and emergency state.

A manifest is built in two parts: what equivalent screens share (``build_shared``: the
catalogue, assets, emergency, and what the manifest depends on and until when), and the screen
itself (``personalise``). ``manifest_cache.ManifestCache`` keeps both in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from content_server.core.changes import ALL, KEYS, ChangeTracker, each_state
from content_server.signage import scheduling, scopes
from content_server.signage.asset_access import AssetGrant
from content_server.signage.models import AnnouncementRow, CampaignRow, Device, HouseRulesRow, Media
from content_server.signage.services.catalogue import (
    LiveSet,
    load_live,
    selected,
    shared_catalogue,
    text_item_id,
)
from content_server.signage.services.screens import to_screen
from schedules.model import BASE_KINDS, ContentItem, ItemKind, Priority, Screen, for_kinds
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


def next_midnight(now: dt.datetime, timezone: str = "UTC") -> dt.datetime:
    """The next midnight of a screen's own calendar (``timezone``; UTC if unknown), in UTC: when
    its manifest's day ends."""
    try:
        zone: dt.tzinfo = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    tomorrow = now.astimezone(zone).date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(), zone).astimezone(dt.UTC)


def valid_until(now: dt.datetime, days: int, timezone: str = "UTC") -> dt.datetime:
    """Start of the screen's next local day plus ``days``: at least ``days`` ahead, stable within
    the day."""
    return next_midnight(now, timezone) + dt.timedelta(days=days)


def emergency_for(
    session: Session, device: Device, now: dt.datetime, live: LiveSet | None = None
) -> EmergencyState:
    """The loudest, then newest, active emergency announcement that targets this screen."""
    return emergency_of(to_screen(device), now, live or load_live(session, now))


def emergency_of(screen: Screen, now: dt.datetime, live: LiveSet) -> EmergencyState:
    """The same for the engine's view of a screen."""
    return emergencies_of([screen], now, live).get(screen.id) or EmergencyState(
        version=NO_EMERGENCY, active=False
    )


def emergencies_of(screens: Iterable[Screen], now: dt.datetime, live: LiveSet) -> dict[str, EmergencyState]:
    """Each screen's emergency, for the screens that have one (the alert rules ask for thousands:
    the emergencies on air are sorted once, and each one's state is made once)."""
    on_air = [
        (a, t)
        for a, t in live.announcements
        if a.priority == Priority.EMERGENCY.value
        and a.valid_from <= now
        and (a.valid_until is None or a.valid_until > now)
    ]
    on_air.sort(key=lambda at: _emergency_order(at[0]))
    made: dict[str, EmergencyState] = {}
    out: dict[str, EmergencyState] = {}
    for screen in screens:
        for a, targeting in on_air:
            if scheduling.targets(targeting, screen):
                out[screen.id] = made.get(a.id) or made.setdefault(a.id, _emergency_state(a))
                break
    return out


def _emergency_state(a: AnnouncementRow) -> EmergencyState:
    text = dict(a.text) or {"zh": a.title, "en": a.title}
    item = ContentItem(
        id=text_item_id(a.id),
        kind=ItemKind.TEXT,
        duration_s=max(1.0, a.duration_s),
        text=text,
        title=a.title,
    )
    return EmergencyState(
        version=_digest([a.id, a.valid_from, a.updated_at, text])[:16],
        active=True,
        announcement_id=a.id,
        item=item,
        # this version went live at its start, or at its last change if later (an emergency
        # entered with a start in the past, a CAP alert effective before it was fetched):
        # screens cannot have shown it before the server had it
        started_at=max(a.valid_from, a.updated_at),
        loudness=loudness_of(a),
    )


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


@dataclass(frozen=True)
class SharedManifest:
    """What equivalent screens (same class, groups, tags, settings, item kinds and rows naming
    them) share: a manifest but for its ``screen`` and ``version``, built once for all of them.

    ``digest`` hashes everything but the screen; ``tail`` is the JSON of the fields after the
    screen (the catalogue: nearly all of the bytes); ``depends_on`` the scopes its inputs come
    from (``scopes``); ``expires_at`` when the clock alone changes it (the screens' next local
    midnight, an announcement's end, an emergency's start or end, a campaign leaving the live set).
    """

    manifest: Manifest
    digest: str
    tail: bytes
    depends_on: frozenset[str]
    expires_at: dt.datetime


HEAD_FIELDS = frozenset({"protocol_version", "version", "generated_at", "valid_until", "screen"})
TAIL_FIELDS = frozenset({"catalogue", "assets", "emergency", "default_item_id"})


def build_shared(
    screen: Screen,
    kinds: frozenset[ItemKind],
    now: dt.datetime,
    *,
    days: int,
    live: LiveSet,
    base_path: str = "/api/v1",
    local_day: bool = True,
) -> SharedManifest:
    """The manifest of every screen equivalent to ``screen``; ``local_day`` false keeps the old
    rule (the UTC day), for comparison only."""
    anns, camps = selected(live, screen, now)
    shared, shared_digest = shared_catalogue(
        live, screen, now, lambda c: _digest(c.model_dump(mode="python")), chosen=(anns, camps)
    )
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
    zone = screen.timezone if local_day else "UTC"
    body = {
        "valid_until": valid_until(now, days, zone),
        "screen": screen,
        "catalogue": catalogue,
        "assets": assets,
        "emergency": emergency_of(screen, now, live),
        "default_item_id": next(
            (i for i in catalogue.filler_item_ids if screen.orientation in catalogue.items[i].orientations),
            catalogue.filler_item_ids[0] if catalogue.filler_item_ids else None,
        ),
    }
    probe = Manifest(version="", generated_at=now, **body)
    parts = probe.model_dump(mode="python", exclude={"version", "generated_at", "catalogue", "screen"})
    parts["catalogue"] = catalogue_digest
    media_ids = {m for a in anns for m in a.media_ids} | {m for c in camps for m in c.media_ids}
    return SharedManifest(
        manifest=probe,
        digest=_digest(parts),
        tail=probe.model_dump_json(include=set(TAIL_FIELDS)).encode()[1:],
        depends_on=scopes.of_screen_shared(screen) | {scopes.media(m) for m in media_ids},
        expires_at=_expiry(live, screen, now, anns, camps, zone),
    )


def _expiry(
    live: LiveSet,
    screen: Screen,
    now: dt.datetime,
    anns: Sequence[AnnouncementRow],
    camps: Sequence[CampaignRow],
    zone: str,
) -> dt.datetime:
    """The first instant at which a manifest built now for ``screen`` would be built otherwise
    with no row changed: its next local midnight, or earlier by the clock alone."""
    moments = [next_midnight(now, zone)]
    moments += [a.valid_until for a in anns if a.valid_until is not None]
    for a, targeting in live.announcements:
        if a.priority == Priority.EMERGENCY.value and scheduling.targets(targeting, screen):
            moments += [t for t in (a.valid_from, a.valid_until) if t is not None]
    # load_live keeps a campaign until the UTC day after its last day is over
    moments += [dt.datetime.combine(c.flight_end + dt.timedelta(days=2), dt.time(), dt.UTC) for c in camps]
    return min(t for t in moments if t > now)


def personalise(shared: SharedManifest, screen: Screen) -> tuple[Manifest, bytes]:
    """One screen's manifest from the shared one, and the JSON before its tail (a few hundred
    bytes: the rest of the body is the shared ``tail``)."""
    version = _digest([shared.digest, screen.model_dump(mode="python")])
    manifest = shared.manifest.model_copy(update={"screen": screen, "version": version})
    head = manifest.model_dump_json(include=set(HEAD_FIELDS)).encode()
    return manifest, head[:-1] + b","


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
    shared = build_shared(screen, device_kinds(device), now, days=days, live=live, base_path=base_path)
    return personalise(shared, screen)[0]


def kinds_of(query: str | None) -> frozenset[ItemKind]:
    """The item kinds a player plays: the base ones and the optional ones it names (``web,stream``)."""
    return BASE_KINDS | parse_kinds(query)


def device_kinds(device: Device) -> frozenset[ItemKind]:
    return kinds_of(",".join(device.item_kinds or ()))


# what of a device feeds its manifest (and, once revoked or re-keyed, the fast path's trust)
DEVICE_INPUTS = frozenset(
    {"name", "kind", "screen_class", "orientation", "width", "height", "groups", "tags", "timezone", "hours",
     "revoked_at", "key_sha256", "item_kinds"}
)  # fmt: skip


def watch_inputs(tracker: ChangeTracker) -> None:
    """Declare what manifests are built from, and which screens a change reaches (``scopes``).

    New media and new (pending) campaigns feed nothing until an edit or a decision does; a
    change to a device can change its emergency (groups) or end its key, so it wakes long-polls.
    """
    tracker.watch(
        Device,
        inserts=False,
        columns=DEVICE_INPUTS,
        emergency=lambda _device: True,
        scopes=scopes.device_row,
        bulk=(ALL, KEYS, scopes.DEVICES),
    )
    tracker.watch(Media, inserts=False, scopes=each_state(scopes.media_row))
    tracker.watch(CampaignRow, inserts=False, scopes=each_state(scopes.campaign_row))
    tracker.watch(
        AnnouncementRow,
        emergency=lambda row: row.priority == Priority.EMERGENCY.value,
        scopes=each_state(scopes.announcement_row),
    )
    tracker.watch(HouseRulesRow, scopes=each_state(scopes.house_rules_row))


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
