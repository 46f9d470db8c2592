"""Per-screen manifests (7 days offline) with a stable content-hash version, and emergency state.

``ManifestCache`` keeps the last built manifest per screen keyed by the change generation and
the UTC day, so an unchanged poll costs one indexed query and a dict look-up (304 path).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from enum import Enum

from sqlalchemy.orm import Session

from content_server.core import changes as state
from content_server.signage import scheduling
from content_server.signage.models import Device
from content_server.signage.services.catalogue import LiveSet, load_live, shared_catalogue, text_item_id
from content_server.signage.services.screens import to_screen
from schedules.model import ContentItem, ItemKind, Priority
from schedules.protocol.device import AssetRef, EmergencyState, Manifest

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
    """The newest active emergency announcement that targets this screen."""
    screen = to_screen(device)
    live = live or load_live(session, now)
    candidates = [
        (a, t)
        for a, t in live.announcements
        if a.priority == Priority.EMERGENCY.value
        and a.valid_from <= now
        and (a.valid_until is None or a.valid_until > now)
    ]
    candidates.sort(key=lambda at: (-at[0].valid_from.timestamp(), at[0].id))
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
                version=version, active=True, announcement_id=a.id, item=item, started_at=a.valid_from
            )
    return EmergencyState(version=NO_EMERGENCY, active=False)


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
    catalogue, catalogue_digest = shared_catalogue(
        live, screen, now, lambda c: _digest(c.model_dump(mode="python"))
    )
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


@dataclass
class _Entry:
    key: tuple[int, dt.date]
    manifest: Manifest
    body: bytes


class ManifestCache:
    """Last manifest per device, valid while the change generation and the UTC day are the same.

    The live set (announcements, campaigns, media) is loaded once per generation and shared.
    ``fresh_manifest`` answers the poll and download fast path from memory, trusting a
    generation read at most ``generation_ttl_s`` ago: a change reaches a screen within that time.
    """

    def __init__(self, generation_ttl_s: float = 1.0) -> None:
        self._entries: dict[str, _Entry] = {}
        self._by_key_hash: dict[str, str] = {}  # sha256(device key) -> device id
        self._live: tuple[tuple[int, dt.date], LiveSet] | None = None
        self._generation: tuple[float, int] | None = None  # (monotonic read time, generation)
        self._ttl = generation_ttl_s
        self._lock = threading.Lock()

    def generation(self, session: Session) -> int:
        gen, _ = state.generations(session)
        with self._lock:
            self._generation = (time.monotonic(), gen)
        return gen

    def get(self, session: Session, device: Device, now: dt.datetime, *, days: int) -> tuple[Manifest, bytes]:
        key = (self.generation(session), now.astimezone(dt.UTC).date())
        with self._lock:
            entry = self._entries.get(device.id)
            live = self._live[1] if self._live is not None and self._live[0] == key else None
        if entry is not None and entry.key == key:
            return entry.manifest, entry.body
        if live is None:
            live = load_live(session, now)
            with self._lock:
                self._live = (key, live)
        manifest = build(session, device, now, days=days, live=live)
        body = manifest.model_dump_json().encode()
        with self._lock:
            self._entries[device.id] = _Entry(key, manifest, body)
            self._by_key_hash[device.key_sha256] = device.id
        if device.served_manifest != manifest.version:
            device.served_manifest = manifest.version
            device.served_manifest_since = now
            session.commit()
        return manifest, body

    def fresh_manifest(self, key_sha256: str, now: dt.datetime) -> Manifest | None:
        """The cached manifest for this device key if it is certainly current, else None.

        Current means: built in the generation last read (at most ``generation_ttl_s`` ago) and
        on the same UTC day. Revoking or changing a device bumps the generation, so a revoked
        key is never answered from here.
        """
        with self._lock:
            device_id = self._by_key_hash.get(key_sha256)
            entry = self._entries.get(device_id) if device_id else None
            gen = self._generation
        if entry is None or gen is None or time.monotonic() - gen[0] > self._ttl:
            return None
        if entry.key != (gen[1], now.astimezone(dt.UTC).date()):
            return None
        return entry.manifest

    def invalidate(self) -> None:
        """This process committed a change: stop trusting the cached generation."""
        with self._lock:
            self._generation = None

    def forget(self, device_id: str) -> None:
        with self._lock:
            self._entries.pop(device_id, None)
